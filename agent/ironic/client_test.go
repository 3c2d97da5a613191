package ironic

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const tok = "0123456789abcdef0123456789abcdef0123456789a"

// fakeIronic answers version discovery, lookup and heartbeat; lookups fail
// with 404 until failLookups reaches zero, and heartbeats fail while
// failHeartbeats > 0.
type fakeIronic struct {
	mu             sync.Mutex
	failLookups    int
	failHeartbeats int
	heartbeats     []HeartbeatRequest
	headers        []http.Header
	lookupQueries  []string
}

func (f *fakeIronic) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.URL.Path == "/":
		w.Write([]byte(`{"default_version":{"id":"v1","version":"1.82"}}`))
	case r.URL.Path == "/v1/lookup":
		f.lookupQueries = append(f.lookupQueries, r.URL.RawQuery)
		f.headers = append(f.headers, r.Header.Clone())
		if f.failLookups > 0 {
			f.failLookups--
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error_message":"{\"faultstring\":\"Node not found\",\"faultcode\":\"Client\"}"}`))
			return
		}
		w.Write([]byte(`{"node":{"uuid":"n-1","properties":{"root_device":{"name":"/dev/sda"}}},
			"config":{"heartbeat_timeout":300,"agent_token":"` + tok + `","agent_token_required":true}}`))
	case strings.HasPrefix(r.URL.Path, "/v1/heartbeat/"):
		f.headers = append(f.headers, r.Header.Clone())
		if f.failHeartbeats > 0 {
			f.failHeartbeats--
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var hb HeartbeatRequest
		json.NewDecoder(r.Body).Decode(&hb)
		f.heartbeats = append(f.heartbeats, hb)
		w.WriteHeader(http.StatusAccepted)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func TestLookupRetriesUntilFound(t *testing.T) {
	f := &fakeIronic{failLookups: 2}
	ts := httptest.NewServer(f)
	defer ts.Close()
	c := &Client{BaseURL: ts.URL, RequestID: "req-1"}
	res, err := c.LookupUntil(context.Background(), []string{"52:54:00:12:34:56", "aa:bb:cc:dd:ee:ff"}, "", time.Minute, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if res.Node.UUID != "n-1" || res.Config.HeartbeatTimeout != 300 || !res.Config.AgentTokenRequired {
		t.Errorf("lookup = %+v", res)
	}
	if got, ok := res.Token(); !ok || got != tok {
		t.Errorf("token = %q %v", got, ok)
	}
	if len(f.lookupQueries) != 3 || f.lookupQueries[2] != "addresses=52%3A54%3A00%3A12%3A34%3A56%2Caa%3Abb%3Acc%3Add%3Aee%3Aff" {
		t.Errorf("queries = %v", f.lookupQueries)
	}
	h := f.headers[0]
	if h.Get("X-OpenStack-Ironic-API-Version") != "1.62" || h.Get("X-OpenStack-Request-ID") != "req-1" {
		t.Errorf("headers = %v", h)
	}
}

func TestLookupGivesUp(t *testing.T) {
	f := &fakeIronic{failLookups: 1000}
	ts := httptest.NewServer(f)
	defer ts.Close()
	c := &Client{BaseURL: ts.URL}
	_, err := c.LookupUntil(context.Background(), []string{"52:54:00:12:34:56"}, "", 50*time.Millisecond, 5*time.Millisecond)
	var se *StatusError
	if !errors.As(err, &se) || se.Status != 404 || se.Fault != "Node not found" {
		t.Fatalf("err = %v, want the last 404 with Ironic's faultstring", err)
	}
}

func TestTokenForms(t *testing.T) {
	tests := []struct {
		token *string
		ok    bool
	}{
		{nil, false},
		{ptr("******"), false},
		{ptr("short"), false},
		{ptr(tok), true},
	}
	for _, tt := range tests {
		r := &LookupResult{Config: LookupConfig{AgentToken: tt.token}}
		if _, ok := r.Token(); ok != tt.ok {
			t.Errorf("Token(%v) ok = %v, want %v", tt.token, ok, tt.ok)
		}
	}
}

func ptr(s string) *string { return &s }

func TestHeartbeaterSurvivesOutageAndForces(t *testing.T) {
	f := &fakeIronic{failHeartbeats: 2}
	ts := httptest.NewServer(f)
	defer ts.Close()
	var attempts atomic.Int32
	hb := &Heartbeater{
		Client:       &Client{BaseURL: ts.URL},
		NodeUUID:     "n-1",
		Timeout:      time.Hour, // normal interval far away: only retries and forces
		MinForcedGap: time.Millisecond,
		ErrorRetry:   10 * time.Millisecond,
		Request: func() HeartbeatRequest {
			return HeartbeatRequest{CallbackURL: "http://127.0.0.1:9999", AgentToken: tok, AgentVersion: "0.1.0"}
		},
		OnResult: func(error) { attempts.Add(1) },
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go hb.Run(ctx)
	waitFor(t, func() bool { f.mu.Lock(); defer f.mu.Unlock(); return len(f.heartbeats) == 1 })
	hb.Force()
	waitFor(t, func() bool { f.mu.Lock(); defer f.mu.Unlock(); return len(f.heartbeats) == 2 })
	if n := attempts.Load(); n != 4 {
		t.Errorf("attempts = %d, want 2 failures + 2 successes", n)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	got := f.heartbeats[0]
	if got.CallbackURL != "http://127.0.0.1:9999" || got.AgentToken != tok || got.AgentVersion != "0.1.0" {
		t.Errorf("heartbeat = %+v", got)
	}
	if v := f.headers[len(f.headers)-1].Get("X-OpenStack-Ironic-API-Version"); v != "1.68" {
		t.Errorf("heartbeat version header = %q, want 1.68", v)
	}
}

func TestHeartbeatInterval(t *testing.T) {
	hb := &Heartbeater{Timeout: 100 * time.Second}
	for range 1000 {
		if d := hb.Interval(); d < 30*time.Second || d > 60*time.Second {
			t.Fatalf("interval %v outside [30s, 60s]", d)
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
