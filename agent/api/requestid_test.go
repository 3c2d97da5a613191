package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/metalagent/metalagent/agent/commands"
)

var generatedID = regexp.MustCompile(`^req-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestRequestIDHeader(t *testing.T) {
	ts, _ := newServer(t)
	const given = "req-0b7c5f0e-2d4c-4d8e-9a51-6f3e2a1b0c9d"
	tests := []struct {
		name, method, path, header string
		// echoed: the answer carries the request's id; otherwise a new one.
		echoed bool
	}{
		{"valid id echoed", http.MethodGet, "/v1/commands/", given, true},
		{"echoed on a refusal too", http.MethodGet, "/v1/commands/nope", given, true},
		{"absent: generated", http.MethodGet, "/v1/status", "", false},
		{"no req- prefix: replaced", http.MethodGet, "/v1/status", "0b7c5f0e-2d4c-4d8e-9a51-6f3e2a1b0c9d", false},
		{"not a uuid: replaced", http.MethodGet, "/v1/status", "req-0b7c5f0e-2d4c-4d8e-9a51-6f3e2a1b0czz", false},
		{"uuid not canonical: replaced", http.MethodGet, "/v1/status", "req-0b7c5f0e2d4c4d8e9a516f3e2a1b0c9d", false},
		{"log injection: replaced", http.MethodGet, "/v1/status", "req-x\" level=error msg=\"forged", false},
		{"on POST", http.MethodPost, "/v1/commands/?agent_token=" + token, given, true},
	}
	seen := map[string]bool{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := ""
			if tc.method == http.MethodPost {
				body = `{"name":"t.echo","params":{"v":1}}`
			}
			req, err := http.NewRequest(tc.method, ts.URL+tc.path, strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.header != "" {
				req.Header.Set("X-OpenStack-Request-ID", tc.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got := resp.Header.Get("X-Openstack-Request-Id")
			switch {
			case tc.echoed && got != tc.header:
				t.Errorf("answer's request id = %q, want the request's %q", got, tc.header)
			case !tc.echoed && !generatedID.MatchString(got):
				t.Errorf("answer's request id = %q, want a new req-<uuid4>", got)
			case !tc.echoed && seen[got]:
				t.Errorf("request id %q generated twice", got)
			}
			seen[got] = true
		})
	}
}

// lockedBuffer collects log output from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) jsonLines(t *testing.T) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(l.b.Bytes()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not a JSON log line: %s", sc.Bytes())
		}
		out = append(out, m)
	}
	return out
}

// TestCommandLinesCarryRequestID checks, through the API, that the JSON
// lines of a command carry the id of the request that started it, and
// that a refusal's line carries its request's id.
func TestCommandLinesCarryRequestID(t *testing.T) {
	out := &lockedBuffer{}
	log := hclog.New(&hclog.LoggerOptions{Output: out, JSONFormat: true}).With("node", "n-1")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := commands.NewRunner(ctx, log.Named("commands"))
	r.Register("t", "async", commands.Command{Async: true, Run: func(_ context.Context, log hclog.Logger, _ commands.Params) (any, error) {
		log.Info("working")
		return "ok", nil
	}})
	s := &Server{Runner: r, Version: "test", Started: time.Now(), Logger: log.Named("api")}
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()

	const cmdID, refusedID = "req-11111111-2222-4333-8444-555555555555", "req-66666666-7777-4888-9999-aaaaaaaaaaaa"
	for _, c := range []struct{ id, body string }{
		{cmdID, `{"name":"t.async","params":{}}`},
		{refusedID, `{"name":"t.nope","params":{}}`},
	} {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/v1/commands/?wait=true", strings.NewReader(c.body))
		req.Header.Set("X-OpenStack-Request-ID", c.id)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	want := map[string]string{
		"command started":   cmdID,
		"working":           cmdID,
		"command succeeded": cmdID,
		"request refused":   refusedID,
	}
	got := map[string]string{}
	for _, l := range out.jsonLines(t) {
		msg, _ := l["@message"].(string)
		if _, ok := want[msg]; !ok {
			continue
		}
		id, _ := l["request_id"].(string)
		got[msg] = id
		if l["node"] != "n-1" {
			t.Errorf("line %q: node = %v, want n-1", msg, l["node"])
		}
		if msg != "request refused" && l["command_id"] == nil {
			t.Errorf("line %q has no command_id", msg)
		}
	}
	for msg, id := range want {
		if got[msg] != id {
			t.Errorf("line %q: request_id = %q, want %q", msg, got[msg], id)
		}
	}
}

// TestNewRequestID checks the made ids' form (req-<uuid4>, which the
// server itself accepts back) and that they do not repeat.
func TestNewRequestID(t *testing.T) {
	seen := map[string]bool{}
	for range 10000 {
		id := newRequestID()
		if !generatedID.MatchString(id) || !validRequestID(id) {
			t.Fatalf("made id %q is not a canonical req-<uuid4>", id)
		}
		if seen[id] {
			t.Fatalf("id %q made twice", id)
		}
		seen[id] = true
	}
}
