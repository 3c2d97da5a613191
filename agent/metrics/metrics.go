// Package metrics is the agent's Prometheus instrumentation: one registry
// owned by the agent (never the global default), and typed helpers so that
// the packages it instruments record events without handling metric
// names or label strings. Every helper is safe on a nil *Metrics, which
// records nothing: code and tests that do not care pass nil.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// namespace prefixes every metric name.
const namespace = "metalagent"

// Outcome is how a command, step, heartbeat, lookup or plugin call ended:
// the "outcome" label.
type Outcome string

// Outcomes.
const (
	// Success: the command or step succeeded, the heartbeat or lookup was
	// accepted, the plugin answered.
	Success Outcome = "success"
	// Failure: the command or step failed, Ironic refused or could not be
	// reached.
	Failure Outcome = "failure"
	// NotSupported: the manager answered "not supported"; dispatch fell
	// through to the next one.
	NotSupported Outcome = "not_supported"
	// Error: the manager answered with an error of its own.
	Error Outcome = "error"
	// Timeout: the plugin did not answer within its deadline and was
	// killed.
	Timeout Outcome = "timeout"
	// Crashed: the plugin's process exited or its connection broke during
	// the call.
	Crashed Outcome = "crashed"
	// OutOfService: the plugin was failed, disabled or refused; the call
	// did not reach it.
	OutOfService Outcome = "out_of_service"
)

// Histogram buckets, in seconds. Commands and steps run from milliseconds
// (a status call) to hours (an erase of large disks); plugin calls from
// about 100 µs (a small gRPC round trip) to minutes.
var (
	longBuckets  = prometheus.ExponentialBuckets(0.01, 4, 11)   // 10 ms … 2.9 h
	shortBuckets = prometheus.ExponentialBuckets(0.0001, 4, 12) // 100 µs … 7 min
)

// Metrics holds the agent's metrics and the registry that exposes them.
type Metrics struct {
	reg *prometheus.Registry

	commands        *prometheus.CounterVec
	commandDuration *prometheus.HistogramVec
	steps           *prometheus.CounterVec
	stepDuration    *prometheus.HistogramVec
	imageBytes      prometheus.Counter
	imageRate       prometheus.Gauge
	heartbeats      *prometheus.CounterVec
	lookups         *prometheus.CounterVec
	pluginCalls     *prometheus.CounterVec
	pluginDuration  *prometheus.HistogramVec
	plugins         *pluginCollector
}

// New returns the agent's metrics in a registry of their own, with the Go
// runtime's and the process's collectors beside them.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "commands_total",
			Help: "Commands run through the agent API, by command name (extension.command) and outcome.",
		}, []string{"command", "outcome"}),
		commandDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "command_duration_seconds",
			Help:    "Time from a command's start to its result, by command name and outcome.",
			Buckets: longBuckets,
		}, []string{"command", "outcome"}),
		steps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "steps_total",
			Help: "Clean, deploy and service steps run, by kind, step name and outcome.",
		}, []string{"kind", "step", "outcome"}),
		stepDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "step_duration_seconds",
			Help:    "Duration of clean, deploy and service steps, by kind, step name and outcome.",
			Buckets: longBuckets,
		}, []string{"kind", "step", "outcome"}),
		imageBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "image_written_bytes_total",
			Help: "Bytes of images written to disk.",
		}),
		imageRate: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "image_write_rate_bytes",
			Help: "Current image write rate in bytes per second, over the last second; 0 when no image is being written.",
		}),
		heartbeats: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "heartbeats_total",
			Help: "Heartbeats sent to Ironic, by outcome (success: accepted; failure: refused or unreachable).",
		}, []string{"outcome"}),
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "lookups_total",
			Help: "Lookup attempts towards Ironic, by outcome.",
		}, []string{"outcome"}),
		pluginCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "plugin_calls_total",
			Help: "Calls to hardware managers (plugins and builtins), by manager, method and outcome.",
		}, []string{"plugin", "method", "outcome"}),
		pluginDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "plugin_call_duration_seconds",
			Help:    "Latency of calls to hardware managers, by manager, method and outcome.",
			Buckets: shortBuckets,
		}, []string{"plugin", "method", "outcome"}),
		plugins: &pluginCollector{},
	}
	m.reg.MustRegister(
		m.commands, m.commandDuration, m.steps, m.stepDuration,
		m.imageBytes, m.imageRate, m.heartbeats, m.lookups,
		m.pluginCalls, m.pluginDuration, m.plugins,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Registry returns the registry holding the agent's metrics.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }
