package pluginhost

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/metalagent/metalagent/agent/metrics"
	"github.com/metalagent/metalagent/agent/metrics/metricstest"
	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// TestCallMetrics checks the outcome each kind of answer is counted
// under, per plugin and method, and the plugins' state and restarts.
func TestCallMetrics(t *testing.T) {
	m := metrics.New()
	h := startHost(t, pluginDir(t, "top-3", "low-1"), func(o *Options) {
		o.StepTimeout = 500 * time.Millisecond
		o.MaxCrashes = 2
		o.Metrics = m
	})
	m.WatchPlugins(h.Statuses)
	calls := []struct {
		method, node string
		kind         sdk.StepKind
	}{
		{"shared_step", `{}`, ""},                 // top answers
		{"shared_step", `{"x":"refuse-top"}`, ""}, // top: not supported; low answers
		{"shared_step", `{"x":"fail-top"}`, ""},   // top: hardware error
		{"hang_step", `{}`, sdk.StepKindClean},    // top: missed deadline, killed, restarted
		{"crash", `{}`, sdk.StepKindClean},        // top: crash, second: failed
		{"shared_step", `{"x":"refuse-low"}`, ""}, // top: out of service; low: not supported
		{"shared_step", `{}`, ""},                 // top: out of service; low answers
	}
	for _, c := range calls {
		_, _ = h.Dispatch(context.Background(), sdk.ExecuteRequest{Method: c.method, Kind: c.kind, Node: json.RawMessage(c.node)})
	}
	want := []struct {
		plugin, method string
		outcome        metrics.Outcome
		n              float64
	}{
		{"top-3", "shared_step", metrics.Success, 1},
		{"top-3", "shared_step", metrics.NotSupported, 1},
		{"top-3", "shared_step", metrics.Error, 1},
		{"top-3", "hang_step", metrics.Timeout, 1},
		{"top-3", "crash", metrics.Crashed, 1},
		{"top-3", "shared_step", metrics.OutOfService, 2},
		{"low-1", "shared_step", metrics.Success, 2},
		{"low-1", "shared_step", metrics.NotSupported, 1},
		{"low-1", "hang_step", metrics.Success, 0},
	}
	for _, w := range want {
		labels := map[string]string{"plugin": w.plugin, "method": w.method, "outcome": string(w.outcome)}
		if got := metricstest.Value(t, m, "metalagent_plugin_calls_total", labels); got != w.n {
			t.Errorf("plugin_calls_total%v = %v, want %v", labels, got, w.n)
		}
		if got := metricstest.Value(t, m, "metalagent_plugin_call_duration_seconds", labels); got != w.n {
			t.Errorf("plugin_call_duration_seconds%v count = %v, want %v", labels, got, w.n)
		}
	}
	hang, _ := metricstest.Get(t, m, "metalagent_plugin_call_duration_seconds",
		map[string]string{"plugin": "top-3", "method": "hang_step", "outcome": "timeout"})
	if hang.Sum < 0.5 {
		t.Errorf("timed-out call lasted %vs, want at least the 0.5 s deadline", hang.Sum)
	}
	states := []struct {
		plugin, state string
		want          float64
	}{
		{"top-3", "failed", 1},
		{"top-3", "running", 0},
		{"low-1", "running", 1},
	}
	for _, s := range states {
		labels := map[string]string{"plugin": s.plugin, "state": s.state}
		if got := metricstest.Value(t, m, "metalagent_plugin_state", labels); got != s.want {
			t.Errorf("plugin_state%v = %v, want %v", labels, got, s.want)
		}
	}
	if got := metricstest.Value(t, m, "metalagent_plugin_restarts_total", map[string]string{"plugin": "top-3"}); got != 1 {
		t.Errorf("restarts of top = %v, want 1", got)
	}
}
