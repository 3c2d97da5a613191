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

	"github.com/hashicorp/go-hclog"

	"github.com/metalagent/metalagent/agent/commands"
	"github.com/metalagent/metalagent/agent/ipa"
)

// getList returns the raw body of GET path.
func getList(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET %s: %d %q", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return b
}

// TestListFollowsEveryChange checks that the command list, whose encoding
// the server reuses, shows every start and end of a command at once, on
// both paths, byte for byte as the runner's list encodes.
func TestListFollowsEveryChange(t *testing.T) {
	ts, release := newServer(t)
	ok := "?agent_token=" + token
	statuses := func() []string {
		t.Helper()
		var out []string
		for _, path := range []string{"/v1/commands/", "/commands/"} {
			var l struct {
				Commands []struct {
					Status string `json:"command_status"`
				} `json:"commands"`
			}
			if err := json.Unmarshal(getList(t, ts.URL+path), &l); err != nil {
				t.Fatal(err)
			}
			var s []string
			for _, c := range l.Commands {
				s = append(s, c.Status)
			}
			out = append(out, strings.Join(s, ","))
		}
		if out[0] != out[1] {
			t.Fatalf("/v1/commands/ %q and /commands/ %q differ", out[0], out[1])
		}
		return strings.Split(out[0], ",")
	}
	if got := statuses(); len(got) != 1 || got[0] != "" {
		t.Fatalf("empty agent lists %v", got)
	}
	do(t, http.MethodPost, ts.URL+"/v1/commands/"+ok, `{"name":"t.echo","params":{}}`)
	if got := statuses(); strings.Join(got, ",") != "SUCCEEDED" {
		t.Fatalf("after a sync command: %v", got)
	}
	_, slow := do(t, http.MethodPost, ts.URL+"/v1/commands/"+ok, `{"name":"t.slow","params":{}}`)
	if got := statuses(); strings.Join(got, ",") != "SUCCEEDED,RUNNING" {
		t.Fatalf("while an async command runs: %v", got)
	}
	close(release)
	do(t, http.MethodGet, ts.URL+"/v1/commands/"+slow["id"].(string)+"?wait=true", "")
	if got := statuses(); strings.Join(got, ",") != "SUCCEEDED,SUCCEEDED" {
		t.Fatalf("after the async command: %v", got)
	}
}

// TestListBodyAsEncoded checks that the reused encoding is what
// encoding/json writes for the runner's list.
func TestListBodyAsEncoded(t *testing.T) {
	r := commands.NewRunner(context.Background(), hclog.NewNullLogger())
	r.Register("t", "echo", commands.Command{Run: func(context.Context, hclog.Logger, commands.Params) (any, error) {
		return map[string]any{"b": 1, "a": "<&>"}, nil
	}})
	r.Register("t", "fail", commands.Command{Run: func(context.Context, hclog.Logger, commands.Params) (any, error) {
		return nil, ipa.New("ImageChecksumError", "expected aa, got bb")
	}})
	s := &Server{Runner: r, Logger: hclog.NewNullLogger()}
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	for _, name := range []string{"t.echo", "t.fail", "t.echo"} {
		if _, err := r.Execute(context.Background(), name, nil, false); err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		if err := json.NewEncoder(&want).Encode(map[string]any{"commands": r.List()}); err != nil {
			t.Fatal(err)
		}
		if body := getList(t, ts.URL+"/v1/commands/"); !bytes.Equal(body, want.Bytes()) {
			t.Errorf("after %s: body\n%s\nwant\n%s", name, body, want.Bytes())
		}
	}
}

// TestListRoutesUnchanged checks that the list's fast path answers only
// GET on the two exact paths, leaving everything else to the router.
func TestListRoutesUnchanged(t *testing.T) {
	ts, _ := newServer(t)
	tests := []struct {
		method, path string
		status       int
	}{
		{http.MethodGet, "/v1/commands/", http.StatusOK},
		{http.MethodGet, "/commands/", http.StatusOK},
		{http.MethodGet, "/v1/commands", http.StatusOK}, // the router's redirect, followed
		{http.MethodHead, "/v1/commands/", http.StatusMethodNotAllowed},
		{http.MethodPut, "/v1/commands/", http.StatusMethodNotAllowed},
		{http.MethodPost, "/v1/commands/?agent_token=" + token, http.StatusOK},
		{http.MethodGet, "/v2/commands/", http.StatusNotFound},
	}
	for _, tc := range tests {
		req, _ := http.NewRequest(tc.method, ts.URL+tc.path, strings.NewReader(`{"name":"t.echo","params":{}}`))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, resp.StatusCode, tc.status)
		}
	}
}

// TestListUnderConcurrentChanges reads the list while commands run, for
// the race detector, and checks the last read sees every command.
func TestListUnderConcurrentChanges(t *testing.T) {
	ts, _ := newServer(t)
	const posts = 20
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					getList(t, ts.URL+"/v1/commands/")
				}
			}
		}()
	}
	for range posts {
		do(t, http.MethodPost, ts.URL+"/v1/commands/?agent_token="+token, `{"name":"t.echo","params":{}}`)
	}
	close(stop)
	wg.Wait()
	var l struct {
		Commands []any `json:"commands"`
	}
	if err := json.Unmarshal(getList(t, ts.URL+"/v1/commands/"), &l); err != nil || len(l.Commands) != posts {
		t.Errorf("list holds %d commands (%v), want %d", len(l.Commands), err, posts)
	}
}
