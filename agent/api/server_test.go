package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/metalagent/metalagent/agent/commands"
	"github.com/metalagent/metalagent/agent/ipa"
)

const token = "0123456789abcdef0123456789abcdef0123456789a"

// newServer returns a test API whose runner has a sync command "t.echo",
// a sync command "t.fail" and an async command "t.slow" that waits for
// release.
func newServer(t *testing.T) (*httptest.Server, chan struct{}) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	r := commands.NewRunner(ctx, hclog.NewNullLogger())
	release := make(chan struct{})
	r.Register("t", "echo", commands.Command{Run: func(_ context.Context, _ hclog.Logger, p commands.Params) (any, error) {
		var v any
		err := p.Decode("v", &v)
		return map[string]any{"v": v}, err
	}})
	r.Register("t", "fail", commands.Command{Run: func(context.Context, hclog.Logger, commands.Params) (any, error) {
		return nil, ipa.New("ImageChecksumError", "expected aa, got bb")
	}})
	r.Register("t", "slow", commands.Command{Async: true, Run: func(ctx context.Context, _ hclog.Logger, _ commands.Params) (any, error) {
		select {
		case <-release:
			return "finished", nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}})
	r.Register("t", "boom", commands.Command{Async: true, Run: func(context.Context, hclog.Logger, commands.Params) (any, error) {
		return nil, errors.New("disk on fire")
	}})
	s := &Server{Runner: r, Version: "test", Started: time.Unix(1700000000, 0), Logger: hclog.NewNullLogger()}
	s.SetToken(token, true)
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return ts, release
}

func do(t *testing.T, method, url, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s %s: content type %q, body %s", method, url, ct, b)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s %s: body not JSON: %s", method, url, b)
	}
	return resp.StatusCode, m
}

func TestCommandRequests(t *testing.T) {
	ts, _ := newServer(t)
	ok := "?agent_token=" + token
	tests := []struct {
		name, path, body string
		status           int
		fault            string // substring of faultstring, for errors
		cmdStatus        string
	}{
		{"sync success", ok, `{"name":"t.echo","params":{"v":1}}`, 200, "", "SUCCEEDED"},
		{"sync failure is a FAILED result", ok, `{"name":"t.fail","params":{}}`, 200, "", "FAILED"},
		{"no token", "", `{"name":"t.echo","params":{}}`, 401, "Token invalid", ""},
		{"wrong token", "?agent_token=nope", `{"name":"t.echo","params":{}}`, 401, "Token invalid", ""},
		{"malformed JSON", ok, `{"name":`, 400, "Missing or invalid name or params", ""},
		{"params missing", ok, `{"name":"t.echo"}`, 400, "Missing or invalid name or params", ""},
		{"params not an object", ok, `{"name":"t.echo","params":[1]}`, 400, "Missing or invalid name or params", ""},
		{"no dot", ok, `{"name":"echo","params":{}}`, 400, "Invalid command", ""},
		{"unknown extension", ok, `{"name":"nope.echo","params":{}}`, 404, "Extension with id nope not found", ""},
		{"unknown command", ok, `{"name":"t.nope","params":{}}`, 400, "Unknown command: t.nope", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := do(t, http.MethodPost, ts.URL+"/v1/commands/"+tt.path, tt.body)
			if status != tt.status {
				t.Fatalf("status = %d, want %d (body %v)", status, tt.status, body)
			}
			if tt.fault != "" {
				fs, _ := body["faultstring"].(string)
				if !strings.Contains(fs, tt.fault) || body["faultcode"] != "Client" {
					t.Errorf("fault = %v, want Client fault containing %q", body, tt.fault)
				}
				return
			}
			if body["command_status"] != tt.cmdStatus {
				t.Errorf("command_status = %v, want %s", body["command_status"], tt.cmdStatus)
			}
			for _, k := range []string{"id", "command_name", "command_status", "command_error", "command_result"} {
				if _, ok := body[k]; !ok {
					t.Errorf("result lacks %s: %v", k, body)
				}
			}
			if len(body) != 5 {
				t.Errorf("result has %d fields, want IPA's 5: %v", len(body), body)
			}
		})
	}
}

func TestFailedResultCarriesError(t *testing.T) {
	ts, _ := newServer(t)
	_, body := do(t, http.MethodPost, ts.URL+"/v1/commands/?agent_token="+token, `{"name":"t.fail","params":{}}`)
	e, _ := body["command_error"].(map[string]any)
	if e["type"] != "ImageChecksumError" || e["details"] != "expected aa, got bb" || e["code"] != float64(500) {
		t.Errorf("command_error = %v", e)
	}
}

func TestAsyncCommandLifecycle(t *testing.T) {
	ts, release := newServer(t)
	ok := "?agent_token=" + token
	_, body := do(t, http.MethodPost, ts.URL+"/v1/commands/"+ok, `{"name":"t.slow","params":{}}`)
	if body["command_status"] != "RUNNING" || body["command_name"] != "slow" {
		t.Fatalf("first answer = %v, want RUNNING slow", body)
	}
	id := body["id"].(string)
	status, busy := do(t, http.MethodPost, ts.URL+"/v1/commands/"+ok, `{"name":"t.echo","params":{}}`)
	if status != http.StatusConflict || !strings.Contains(busy["faultstring"].(string), "Agent is busy: executing command slow") {
		t.Fatalf("second command: %d %v, want 409 busy", status, busy)
	}
	close(release)
	_, got := do(t, http.MethodGet, ts.URL+"/v1/commands/"+id+"?wait=true", "")
	if got["command_status"] != "SUCCEEDED" {
		t.Fatalf("after wait: %v", got)
	}
	if res := got["command_result"].(map[string]any)["result"]; res != "slow: finished" {
		t.Errorf("result = %v, want IPA's wrapped string", res)
	}
	_, list := do(t, http.MethodGet, ts.URL+"/v1/commands/", "")
	cmds := list["commands"].([]any)
	if len(cmds) != 1 || cmds[0].(map[string]any)["id"] != id {
		t.Errorf("list = %v (the refused command must not be recorded)", cmds)
	}
	// The agent keeps serving after a failing async command.
	_, boom := do(t, http.MethodPost, ts.URL+"/v1/commands/"+ok+"&wait=true", `{"name":"t.boom","params":{}}`)
	e := boom["command_error"].(map[string]any)
	if boom["command_status"] != "FAILED" || e["type"] != "CommandExecutionError" || e["details"] != "disk on fire" {
		t.Errorf("failed async = %v", boom)
	}
}

func TestReadOnlyRoutes(t *testing.T) {
	ts, _ := newServer(t)
	tests := []struct {
		path   string
		status int
		key    string
	}{
		{"/", 200, "default_version"},
		{"/v1/", 200, "media_types"},
		{"/v1/status", 200, "started_at"},
		{"/status", 200, "version"},
		{"/v1/commands/", 200, "commands"},
		{"/v1/commands/nope", 404, "faultstring"},
		{"/v2/", 404, "faultstring"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			status, body := do(t, http.MethodGet, ts.URL+tt.path, "")
			if status != tt.status {
				t.Fatalf("status = %d, want %d", status, tt.status)
			}
			if _, ok := body[tt.key]; !ok {
				t.Errorf("body lacks %s: %v", tt.key, body)
			}
		})
	}
	status, body := do(t, http.MethodDelete, ts.URL+"/v1/status", "")
	if status != http.StatusMethodNotAllowed || body["faultcode"] != "Client" {
		t.Errorf("DELETE = %d %v, want 405 fault", status, body)
	}
}
