package metrics

import "time"

// OutcomeOf is Success for a nil error and Failure otherwise.
func OutcomeOf(err error) Outcome {
	if err == nil {
		return Success
	}
	return Failure
}

// CommandDone records a command that ended after d.
func (m *Metrics) CommandDone(command string, outcome Outcome, d time.Duration) {
	if m == nil {
		return
	}
	m.commands.WithLabelValues(command, string(outcome)).Inc()
	m.commandDuration.WithLabelValues(command, string(outcome)).Observe(d.Seconds())
}

// StepDone records a step of kind (clean, deploy, service) that ended
// after d.
func (m *Metrics) StepDone(kind, step string, outcome Outcome, d time.Duration) {
	if m == nil {
		return
	}
	m.steps.WithLabelValues(kind, step, string(outcome)).Inc()
	m.stepDuration.WithLabelValues(kind, step, string(outcome)).Observe(d.Seconds())
}

// ImageWritten adds n bytes written to disk.
func (m *Metrics) ImageWritten(n int64) {
	if m == nil || n <= 0 {
		return
	}
	m.imageBytes.Add(float64(n))
}

// ImageRate sets the current image write rate in bytes per second (0
// when the write ends).
func (m *Metrics) ImageRate(bytesPerSecond float64) {
	if m == nil {
		return
	}
	m.imageRate.Set(bytesPerSecond)
}

// Heartbeat records one heartbeat attempt and its error.
func (m *Metrics) Heartbeat(err error) {
	if m == nil {
		return
	}
	m.heartbeats.WithLabelValues(string(OutcomeOf(err))).Inc()
}

// Lookup records one lookup attempt and its error.
func (m *Metrics) Lookup(err error) {
	if m == nil {
		return
	}
	m.lookups.WithLabelValues(string(OutcomeOf(err))).Inc()
}

// PluginCall records a call to a hardware manager's method that ended
// after d.
func (m *Metrics) PluginCall(plugin, method string, outcome Outcome, d time.Duration) {
	if m == nil {
		return
	}
	m.pluginCalls.WithLabelValues(plugin, method, string(outcome)).Inc()
	m.pluginDuration.WithLabelValues(plugin, method, string(outcome)).Observe(d.Seconds())
}
