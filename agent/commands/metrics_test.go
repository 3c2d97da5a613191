package commands

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/metalagent/metalagent/agent/config"
	"github.com/metalagent/metalagent/agent/metrics"
	"github.com/metalagent/metalagent/agent/metrics/metricstest"
	"github.com/metalagent/metalagent/agent/pluginhost"
)

// syncBuffer is a bytes.Buffer safe for the runner's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// lines decodes the JSON log lines written so far.
func (s *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(s.b.Bytes()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line is not JSON: %s", sc.Bytes())
		}
		out = append(out, m)
	}
	return out
}

// instrumentedRunner is newRunner with metrics everywhere and a JSON log
// whose lines carry the node, as the agent's do after lookup.
func instrumentedRunner(t *testing.T, fail bool) (*Runner, *metrics.Metrics, *syncBuffer) {
	t.Helper()
	m := metrics.New()
	out := &syncBuffer{}
	log := hclog.New(&hclog.LoggerOptions{Output: out, JSONFormat: true, Level: hclog.Debug}).With("node", "n-1")
	d := &Deps{Config: &config.Config{}, Logger: log, Metrics: m}
	h, err := pluginhost.Start(context.Background(), pluginhost.Options{Metrics: m, Builtins: []pluginhost.Builtin{
		{Name: "fake", Manager: &fakeManager{fail: fail}},
		{Name: BuiltinName, Manager: Builtin(d)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	d.Host = h
	r := NewRunner(context.Background(), log)
	r.Metrics = m
	RegisterAll(r, d)
	return r, m, out
}

func TestCommandMetrics(t *testing.T) {
	step := `{"step":{"step":"wipe","interface":"deploy"},"node":{},"ports":[]}`
	tests := []struct {
		name    string
		fail    bool
		outcome string
	}{
		{"step succeeds", false, "success"},
		{"step fails", true, "failure"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, m, _ := instrumentedRunner(t, tc.fail)
			for range 2 {
				if _, err := r.Execute(context.Background(), "clean.execute_clean_step", params(t, step), true); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := r.Execute(context.Background(), "standby.get_partition_uuids", Params{}, false); err != nil {
				t.Fatal(err)
			}
			for _, w := range []struct {
				name   string
				labels map[string]string
				want   float64
			}{
				{"metalagent_commands_total", map[string]string{"command": "clean.execute_clean_step", "outcome": tc.outcome}, 2},
				{"metalagent_command_duration_seconds", map[string]string{"command": "clean.execute_clean_step", "outcome": tc.outcome}, 2},
				{"metalagent_commands_total", map[string]string{"command": "standby.get_partition_uuids", "outcome": "success"}, 1},
				{"metalagent_steps_total", map[string]string{"kind": "clean", "step": "wipe", "outcome": tc.outcome}, 2},
				{"metalagent_step_duration_seconds", map[string]string{"kind": "clean", "step": "wipe", "outcome": tc.outcome}, 2},
				{"metalagent_plugin_calls_total", map[string]string{"plugin": "fake", "method": "wipe", "outcome": map[bool]string{false: "success", true: "error"}[tc.fail]}, 2},
			} {
				if got := metricstest.Value(t, m, w.name, w.labels); got != w.want {
					t.Errorf("%s%v = %v, want %v", w.name, w.labels, got, w.want)
				}
			}
		})
	}
}

// TestCommandLogFields checks that every JSON log line about a command
// carries the node, the command id and name, and the id of the API
// request that started it.
func TestCommandLogFields(t *testing.T) {
	r, _, out := instrumentedRunner(t, false)
	ctx := WithRequestID(context.Background(), "req-4f1c1bd8-7e0b-4f38-9d44-1b2a3c4d5e6f")
	res, err := r.Execute(ctx, "clean.execute_clean_step", params(t, `{"step":{"step":"wipe","interface":"deploy"},"node":{},"ports":[]}`), true)
	if err != nil || res.CommandStatus != StatusSucceeded {
		t.Fatalf("execute: %+v, %v", res, err)
	}
	want := map[string]any{
		"node":       "n-1",
		"command_id": res.ID,
		"command":    "clean.execute_clean_step",
		"request_id": "req-4f1c1bd8-7e0b-4f38-9d44-1b2a3c4d5e6f",
	}
	seen := map[string]bool{}
	for _, l := range out.lines(t) {
		msg, _ := l["@message"].(string)
		if l["command_id"] == nil {
			continue
		}
		seen[msg] = true
		for k, v := range want {
			if l[k] != v {
				t.Errorf("line %q: %s = %v, want %v", msg, k, l[k], v)
			}
		}
	}
	for _, msg := range []string{"command started", "running step", "command succeeded"} {
		if !seen[msg] {
			t.Errorf("no %q line with the command's fields; lines: %v", msg, out.lines(t))
		}
	}
}
