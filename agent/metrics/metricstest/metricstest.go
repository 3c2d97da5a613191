// Package metricstest reads the agent's metrics back in tests.
package metricstest

import (
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/metalagent/metalagent/agent/metrics"
)

// Sample is one series' reading.
type Sample struct {
	// Value is a counter's or gauge's value, or a histogram's sample
	// count.
	Value float64
	// Sum is a histogram's sum of observations; 0 for others.
	Sum float64
}

// Get returns the series name{labels} of m (labels must match exactly; nil
// for a series without labels), and whether it exists.
func Get(t testing.TB, m *metrics.Metrics, name string, labels map[string]string) (Sample, bool) {
	t.Helper()
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatalf("gather metrics: %v", err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, s := range f.GetMetric() {
			if !hasLabels(s, labels) {
				continue
			}
			switch {
			case s.Counter != nil:
				return Sample{Value: s.GetCounter().GetValue()}, true
			case s.Gauge != nil:
				return Sample{Value: s.GetGauge().GetValue()}, true
			case s.Histogram != nil:
				return Sample{Value: float64(s.GetHistogram().GetSampleCount()), Sum: s.GetHistogram().GetSampleSum()}, true
			}
		}
	}
	return Sample{}, false
}

// Value returns the value of series name{labels}, 0 when it does not
// exist.
func Value(t testing.TB, m *metrics.Metrics, name string, labels map[string]string) float64 {
	t.Helper()
	s, _ := Get(t, m, name, labels)
	return s.Value
}

func hasLabels(s *dto.Metric, want map[string]string) bool {
	got := s.GetLabel()
	if len(got) != len(want) {
		return false
	}
	for _, l := range got {
		if v, ok := want[l.GetName()]; !ok || v != l.GetValue() {
			return false
		}
	}
	return true
}
