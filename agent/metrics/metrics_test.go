package metrics

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// sample returns the value of the series name{labels} in m's registry: a
// counter's or gauge's value, a histogram's sample count and sum. ok is
// false when the series does not exist.
func sample(t *testing.T, m *Metrics, name string, labels map[string]string) (value, sum float64, ok bool) {
	t.Helper()
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
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
				return s.GetCounter().GetValue(), 0, true
			case s.Gauge != nil:
				return s.GetGauge().GetValue(), 0, true
			case s.Histogram != nil:
				return float64(s.GetHistogram().GetSampleCount()), s.GetHistogram().GetSampleSum(), true
			}
		}
	}
	return 0, 0, false
}

func hasLabels(s *dto.Metric, want map[string]string) bool {
	got := map[string]string{}
	for _, l := range s.GetLabel() {
		got[l.GetName()] = l.GetValue()
	}
	if len(got) != len(want) {
		return false
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

func TestRecord(t *testing.T) {
	type series struct {
		name   string
		labels map[string]string
		value  float64
		sum    float64 // histograms: the sum of observations in seconds
	}
	boom := errors.New("boom")
	tests := []struct {
		name   string
		record func(m *Metrics)
		want   []series
	}{
		{"command succeeded twice, failed once", func(m *Metrics) {
			m.CommandDone("standby.prepare_image", Success, 2*time.Second)
			m.CommandDone("standby.prepare_image", Success, 3*time.Second)
			m.CommandDone("standby.prepare_image", Failure, time.Second)
		}, []series{
			{"metalagent_commands_total", map[string]string{"command": "standby.prepare_image", "outcome": "success"}, 2, 0},
			{"metalagent_commands_total", map[string]string{"command": "standby.prepare_image", "outcome": "failure"}, 1, 0},
			{"metalagent_command_duration_seconds", map[string]string{"command": "standby.prepare_image", "outcome": "success"}, 2, 5},
		}},
		{"step", func(m *Metrics) {
			m.StepDone("clean", "erase_devices_metadata", Failure, 1500*time.Millisecond)
		}, []series{
			{"metalagent_steps_total", map[string]string{"kind": "clean", "step": "erase_devices_metadata", "outcome": "failure"}, 1, 0},
			{"metalagent_step_duration_seconds", map[string]string{"kind": "clean", "step": "erase_devices_metadata", "outcome": "failure"}, 1, 1.5},
		}},
		{"image bytes add up; rate is the last set", func(m *Metrics) {
			m.ImageWritten(4 << 20)
			m.ImageWritten(1 << 20)
			m.ImageWritten(-3) // ignored: a counter never goes down
			m.ImageRate(100e6)
			m.ImageRate(250e6)
		}, []series{
			{"metalagent_image_written_bytes_total", nil, 5 << 20, 0},
			{"metalagent_image_write_rate_bytes", nil, 250e6, 0},
		}},
		{"heartbeats and lookups by error", func(m *Metrics) {
			m.Heartbeat(nil)
			m.Heartbeat(nil)
			m.Heartbeat(boom)
			m.Lookup(boom)
			m.Lookup(boom)
			m.Lookup(nil)
		}, []series{
			{"metalagent_heartbeats_total", map[string]string{"outcome": "success"}, 2, 0},
			{"metalagent_heartbeats_total", map[string]string{"outcome": "failure"}, 1, 0},
			{"metalagent_lookups_total", map[string]string{"outcome": "failure"}, 2, 0},
			{"metalagent_lookups_total", map[string]string{"outcome": "success"}, 1, 0},
		}},
		{"plugin calls", func(m *Metrics) {
			m.PluginCall("generic", "erase_devices", Timeout, 30*time.Second)
			m.PluginCall("generic", "get_clean_steps", Success, 250*time.Microsecond)
			m.PluginCall("generic", "get_clean_steps", Success, 250*time.Microsecond)
		}, []series{
			{"metalagent_plugin_calls_total", map[string]string{"plugin": "generic", "method": "erase_devices", "outcome": "timeout"}, 1, 0},
			{"metalagent_plugin_calls_total", map[string]string{"plugin": "generic", "method": "get_clean_steps", "outcome": "success"}, 2, 0},
			{"metalagent_plugin_call_duration_seconds", map[string]string{"plugin": "generic", "method": "get_clean_steps", "outcome": "success"}, 2, 0.0005},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := New()
			tc.record(m)
			for _, w := range tc.want {
				v, sum, ok := sample(t, m, w.name, w.labels)
				if !ok {
					t.Fatalf("%s%v: no such series", w.name, w.labels)
				}
				if v != w.value {
					t.Errorf("%s%v = %v, want %v", w.name, w.labels, v, w.value)
				}
				if d := sum - w.sum; d > 1e-9 || d < -1e-9 {
					t.Errorf("%s%v sum = %v, want %v", w.name, w.labels, sum, w.sum)
				}
			}
		})
	}
}

// TestNil checks that every helper on a nil *Metrics records nothing and
// does not panic, so packages call them unconditionally.
func TestNil(t *testing.T) {
	var m *Metrics
	calls := map[string]func(){
		"CommandDone":  func() { m.CommandDone("a.b", Success, time.Second) },
		"StepDone":     func() { m.StepDone("clean", "s", Success, time.Second) },
		"ImageWritten": func() { m.ImageWritten(1) },
		"ImageRate":    func() { m.ImageRate(1) },
		"Heartbeat":    func() { m.Heartbeat(nil) },
		"Lookup":       func() { m.Lookup(nil) },
		"PluginCall":   func() { m.PluginCall("p", "m", Success, time.Second) },
		"WatchPlugins": func() { m.WatchPlugins(func() []PluginStatus { return nil }) },
	}
	for name, call := range calls {
		func() {
			defer func() {
				if rec := recover(); rec != nil {
					t.Errorf("%s on nil Metrics panicked: %v", name, rec)
				}
			}()
			call()
		}()
	}
}

func TestPluginState(t *testing.T) {
	m := New()
	if _, _, ok := sample(t, m, "metalagent_plugin_state", map[string]string{"plugin": "generic", "state": "running"}); ok {
		t.Fatal("plugin state series before any source is watched")
	}
	statuses := []PluginStatus{
		{Name: "metalagent-builtin", State: "running"},
		{Name: "generic", State: "restarting", Restarts: 2},
		{Name: "odd", State: "sleeping"},
		{Name: "generic", State: "refused"}, // duplicate name: ignored
	}
	m.WatchPlugins(func() []PluginStatus { return statuses })
	tests := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"metalagent_plugin_state", map[string]string{"plugin": "metalagent-builtin", "state": "running"}, 1},
		{"metalagent_plugin_state", map[string]string{"plugin": "metalagent-builtin", "state": "failed"}, 0},
		{"metalagent_plugin_state", map[string]string{"plugin": "generic", "state": "restarting"}, 1},
		{"metalagent_plugin_state", map[string]string{"plugin": "generic", "state": "running"}, 0},
		{"metalagent_plugin_state", map[string]string{"plugin": "generic", "state": "refused"}, 0},
		{"metalagent_plugin_state", map[string]string{"plugin": "odd", "state": "sleeping"}, 1},
		{"metalagent_plugin_restarts_total", map[string]string{"plugin": "generic"}, 2},
		{"metalagent_plugin_restarts_total", map[string]string{"plugin": "metalagent-builtin"}, 0},
	}
	for _, tc := range tests {
		v, _, ok := sample(t, m, tc.name, tc.labels)
		if !ok || v != tc.want {
			t.Errorf("%s%v = %v (present %v), want %v", tc.name, tc.labels, v, ok, tc.want)
		}
	}
	// A restart seen at the next scrape.
	statuses = []PluginStatus{{Name: "generic", State: "running", Restarts: 3}}
	if v, _, _ := sample(t, m, "metalagent_plugin_restarts_total", map[string]string{"plugin": "generic"}); v != 3 {
		t.Errorf("restarts after change = %v, want 3", v)
	}
}

func TestServe(t *testing.T) {
	m := New()
	m.CommandDone("standby.sync", Success, 10*time.Millisecond)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Serve(ctx, ln, nil) }()
	base := "http://" + ln.Addr().String()
	tests := []struct {
		path     string
		status   int
		contains []string
	}{
		{"/metrics", http.StatusOK, []string{
			`metalagent_commands_total{command="standby.sync",outcome="success"} 1`,
			`# TYPE metalagent_command_duration_seconds histogram`,
			`go_goroutines `,
			`process_resident_memory_bytes `,
		}},
		{"/", http.StatusNotFound, nil},
		{"/v1/commands/", http.StatusNotFound, nil},
	}
	for _, tc := range tests {
		resp, err := http.Get(base + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("GET %s: %d, want %d", tc.path, resp.StatusCode, tc.status)
		}
		for _, c := range tc.contains {
			if !strings.Contains(string(body), c) {
				t.Errorf("GET %s: body lacks %q", tc.path, c)
			}
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
}
