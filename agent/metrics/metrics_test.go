package metrics_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/metalagent/metalagent/agent/metrics"
	"github.com/metalagent/metalagent/agent/metrics/metricstest"
)

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
		record func(m *metrics.Metrics)
		want   []series
	}{
		{"command succeeded twice, failed once", func(m *metrics.Metrics) {
			m.CommandDone("standby.prepare_image", metrics.Success, 2*time.Second)
			m.CommandDone("standby.prepare_image", metrics.Success, 3*time.Second)
			m.CommandDone("standby.prepare_image", metrics.Failure, time.Second)
		}, []series{
			{"metalagent_commands_total", map[string]string{"command": "standby.prepare_image", "outcome": "success"}, 2, 0},
			{"metalagent_commands_total", map[string]string{"command": "standby.prepare_image", "outcome": "failure"}, 1, 0},
			{"metalagent_command_duration_seconds", map[string]string{"command": "standby.prepare_image", "outcome": "success"}, 2, 5},
		}},
		{"step", func(m *metrics.Metrics) {
			m.StepDone("clean", "erase_devices_metadata", metrics.Failure, 1500*time.Millisecond)
		}, []series{
			{"metalagent_steps_total", map[string]string{"kind": "clean", "step": "erase_devices_metadata", "outcome": "failure"}, 1, 0},
			{"metalagent_step_duration_seconds", map[string]string{"kind": "clean", "step": "erase_devices_metadata", "outcome": "failure"}, 1, 1.5},
		}},
		{"image bytes add up; rate is the last set", func(m *metrics.Metrics) {
			m.ImageWritten(4 << 20)
			m.ImageWritten(1 << 20)
			m.ImageWritten(-3) // ignored: a counter never goes down
			m.ImageRate(100e6)
			m.ImageRate(250e6)
		}, []series{
			{"metalagent_image_written_bytes_total", nil, 5 << 20, 0},
			{"metalagent_image_write_rate_bytes", nil, 250e6, 0},
		}},
		{"heartbeats and lookups by error", func(m *metrics.Metrics) {
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
		{"plugin calls", func(m *metrics.Metrics) {
			m.PluginCall("generic", "erase_devices", metrics.Timeout, 30*time.Second)
			m.PluginCall("generic", "get_clean_steps", metrics.Success, 250*time.Microsecond)
			m.PluginCall("generic", "get_clean_steps", metrics.Success, 250*time.Microsecond)
		}, []series{
			{"metalagent_plugin_calls_total", map[string]string{"plugin": "generic", "method": "erase_devices", "outcome": "timeout"}, 1, 0},
			{"metalagent_plugin_calls_total", map[string]string{"plugin": "generic", "method": "get_clean_steps", "outcome": "success"}, 2, 0},
			{"metalagent_plugin_call_duration_seconds", map[string]string{"plugin": "generic", "method": "get_clean_steps", "outcome": "success"}, 2, 0.0005},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := metrics.New()
			tc.record(m)
			for _, w := range tc.want {
				got, ok := metricstest.Get(t, m, w.name, w.labels)
				v, sum := got.Value, got.Sum
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

// TestNil checks that every helper on a nil *metrics.Metrics records nothing and
// does not panic, so packages call them unconditionally.
func TestNil(t *testing.T) {
	var m *metrics.Metrics
	calls := map[string]func(){
		"CommandDone":  func() { m.CommandDone("a.b", metrics.Success, time.Second) },
		"StepDone":     func() { m.StepDone("clean", "s", metrics.Success, time.Second) },
		"ImageWritten": func() { m.ImageWritten(1) },
		"ImageRate":    func() { m.ImageRate(1) },
		"Heartbeat":    func() { m.Heartbeat(nil) },
		"Lookup":       func() { m.Lookup(nil) },
		"PluginCall":   func() { m.PluginCall("p", "m", metrics.Success, time.Second) },
		"WatchPlugins": func() { m.WatchPlugins(func() []metrics.PluginStatus { return nil }) },
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
	m := metrics.New()
	if _, ok := metricstest.Get(t, m, "metalagent_plugin_state", map[string]string{"plugin": "generic", "state": "running"}); ok {
		t.Fatal("plugin state series before any source is watched")
	}
	statuses := []metrics.PluginStatus{
		{Name: "metalagent-builtin", State: "running"},
		{Name: "generic", State: "restarting", Restarts: 2},
		{Name: "odd", State: "sleeping"},
		{Name: "generic", State: "refused"}, // duplicate name: ignored
	}
	m.WatchPlugins(func() []metrics.PluginStatus { return statuses })
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
		got, ok := metricstest.Get(t, m, tc.name, tc.labels)
		v := got.Value
		if !ok || v != tc.want {
			t.Errorf("%s%v = %v (present %v), want %v", tc.name, tc.labels, v, ok, tc.want)
		}
	}
	// A restart seen at the next scrape.
	statuses = []metrics.PluginStatus{{Name: "generic", State: "running", Restarts: 3}}
	if v := metricstest.Value(t, m, "metalagent_plugin_restarts_total", map[string]string{"plugin": "generic"}); v != 3 {
		t.Errorf("restarts after change = %v, want 3", v)
	}
}

func TestServe(t *testing.T) {
	m := metrics.New()
	m.CommandDone("standby.sync", metrics.Success, 10*time.Millisecond)
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
