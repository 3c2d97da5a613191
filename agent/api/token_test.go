package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/metalagent/metalagent/agent/commands"
)

// syncBuffer is a bytes.Buffer safe for a logger and a test at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// tokenServer returns an API with one sync command "t.echo", the given
// token state, and its log.
func tokenServer(t *testing.T, tok string, required bool) (*httptest.Server, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	r := commands.NewRunner(ctx, hclog.NewNullLogger())
	r.Register("t", "echo", commands.Command{Run: func(context.Context, hclog.Logger, commands.Params) (any, error) {
		return "ok", nil
	}})
	logs := &syncBuffer{}
	s := &Server{Runner: r, Version: "test", Started: time.Unix(1700000000, 0),
		Logger: hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Debug})}
	s.SetToken(tok, required)
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return ts, logs
}

// rawDo sends a request and returns the status and the body as text.
func rawDo(t *testing.T, method, url, body string) (int, string) {
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
	return resp.StatusCode, string(b)
}

func TestTokenOnCommands(t *testing.T) {
	const cmd = `{"name":"t.echo","params":{}}`
	tests := []struct {
		name     string
		agentTok string
		required bool
		query    string
		want     int
		problem  string // in the log line of a refusal
	}{
		{"right token", token, true, "?agent_token=" + token, 200, ""},
		{"no token", token, true, "", 401, "no agent_token in the request"},
		{"no token, Ironic does not require tokens", token, false, "", 401, "no agent_token in the request"},
		{"wrong token", token, true, "?agent_token=" + strings.Repeat("x", len(token)), 401, "does not match"},
		{"prefix of the token", token, true, "?agent_token=" + token[:20], 401, "does not match"},
		{"token sent, agent has none", "", false, "?agent_token=" + token, 401, "agent has none"},
		{"agent has none but Ironic requires one", "", true, "", 401, "handed it to an earlier boot"},
		{"standalone: no token either side", "", false, "", 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, logs := tokenServer(t, tt.agentTok, tt.required)
			for _, prefix := range []string{"/v1", ""} {
				status, body := rawDo(t, http.MethodPost, ts.URL+prefix+"/commands/"+tt.query, cmd)
				if status != tt.want {
					t.Fatalf("POST %s/commands/: %d %s, want %d", prefix, status, body, tt.want)
				}
				if tt.want != 401 {
					continue
				}
				var fault map[string]any
				if err := json.Unmarshal([]byte(body), &fault); err != nil {
					t.Fatal(err)
				}
				want := map[string]any{"faultcode": "Client", "faultstring": "401 Unauthorized: Token invalid."}
				if len(fault) != 2 || fault["faultcode"] != want["faultcode"] || fault["faultstring"] != want["faultstring"] {
					t.Errorf("401 body %v, want IPA's %v", fault, want)
				}
			}
			out := logs.String()
			if tt.problem != "" && (!strings.Contains(out, "agent token invalid") || !strings.Contains(out, tt.problem)) {
				t.Errorf("log lacks the refusal with %q:\n%s", tt.problem, out)
			}
			if strings.Contains(out, token[:20]) {
				t.Errorf("log leaks the token:\n%s", out)
			}
		})
	}
}

func TestTokenLocksResultsOnceAReadCarriesIt(t *testing.T) {
	ts, logs := tokenServer(t, token, true)
	if status, body := rawDo(t, http.MethodPost, ts.URL+"/v1/commands/?agent_token="+token, `{"name":"t.echo","params":{}}`); status != 200 {
		t.Fatalf("POST: %d %s", status, body)
	}
	var id string
	steps := []struct {
		name, path string
		want       int
	}{
		{"Ironic 21.4 reads without a token", "/v1/commands/", 200},
		{"a wrong token is refused but does not lock", "/v1/commands/?agent_token=nope", 401},
		{"still open to token-less reads", "/commands/", 200},
		{"a newer conductor reads with the token", "/v1/commands/?agent_token=" + token, 200},
		{"now token-less reads are refused", "/v1/commands/", 401},
		{"also without /v1", "/commands/", 401},
		{"and one result", "/v1/commands/{id}", 401},
		{"one result with the token", "/v1/commands/{id}?agent_token=" + token, 200},
		{"status stays open", "/v1/status", 200},
		{"the root stays open", "/", 200},
	}
	for _, st := range steps {
		path := strings.ReplaceAll(st.path, "{id}", id)
		status, body := rawDo(t, http.MethodGet, ts.URL+path, "")
		if status != st.want {
			t.Fatalf("%s: GET %s = %d %s, want %d", st.name, path, status, body, st.want)
		}
		if id == "" && status == 200 && strings.HasPrefix(path, "/v1/commands/") {
			var list struct {
				Commands []struct {
					ID string `json:"id"`
				} `json:"commands"`
			}
			if err := json.Unmarshal([]byte(body), &list); err != nil || len(list.Commands) != 1 {
				t.Fatalf("list %s: %v", body, err)
			}
			id = list.Commands[0].ID
		}
	}
	if out := logs.String(); !strings.Contains(out, "results now require it") || strings.Contains(out, token[:20]) {
		t.Errorf("log lacks the lock line or leaks the token:\n%s", out)
	}
}
