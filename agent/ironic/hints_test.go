package ironic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestHeartbeatRefusalHints checks the cause given for each refusal
// Ironic 21.4 answers a heartbeat with (texts from ironic/api/controllers/
// v1/ramdisk.py, ironic/conductor/manager.py heartbeat and utils.py
// store_agent_certificate, ironic/common/exception.py), in Ironic's error
// body.
func TestHeartbeatRefusalHints(t *testing.T) {
	var refusals []struct {
		Status int    `json:"status"`
		Fault  string `json:"fault"`
		Hint   string `json:"hint"`
	}
	readJSON(t, &refusals, "heartbeat", "refusals.json")
	for _, r := range refusals {
		t.Run(fmt.Sprintf("%d %s", r.Status, r.Fault), func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				if req.URL.Path == "/" {
					w.Write([]byte(`{"default_version":{"version":"1.82"}}`))
					return
				}
				inner, _ := json.Marshal(map[string]any{"faultstring": r.Fault, "faultcode": "Client", "debuginfo": nil})
				w.WriteHeader(r.Status)
				json.NewEncoder(w).Encode(map[string]string{"error_message": string(inner)})
			}))
			defer ts.Close()
			c := &Client{BaseURL: ts.URL}
			err := c.Heartbeat(context.Background(), "1be26c0b-03f2-4d2e-ae87-c02d7f33c123", HeartbeatRequest{CallbackURL: "http://192.0.2.10:9999"})
			var se *StatusError
			if !errors.As(err, &se) || se.Status != r.Status || se.Fault != r.Fault {
				t.Fatalf("err = %#v, want a StatusError %d with the faultstring", err, r.Status)
			}
			if got := se.Hint(); (r.Hint == "" && got != "") || !strings.Contains(got, r.Hint) {
				t.Errorf("hint = %q, want one containing %q", got, r.Hint)
			}
		})
	}
}

func TestLookupRefusalHints(t *testing.T) {
	tests := []struct {
		status   int
		nodeUUID string
		want     string
	}{
		{404, "", "Ironic does not know a node with MACs [52:54:00:12:34:56 aa:bb:cc:dd:ee:ff]: is the node in a state that waits for an agent?"},
		{404, "n-1", "Ironic does not know node n-1 (or one with MACs [52:54:00:12:34:56 aa:bb:cc:dd:ee:ff])"},
		{409, "", "the node is locked by another Ironic operation"},
		{400, "", "Ironic refused the lookup request"},
		{500, "", "Ironic's API failed (500)"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status, tt.nodeUUID), func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/" {
					w.Write([]byte(`{"default_version":{"version":"1.82"}}`))
					return
				}
				w.WriteHeader(tt.status)
			}))
			defer ts.Close()
			c := &Client{BaseURL: ts.URL}
			_, err := c.Lookup(context.Background(), []string{"52:54:00:12:34:56", "aa:bb:cc:dd:ee:ff"}, tt.nodeUUID)
			var se *StatusError
			if !errors.As(err, &se) || !strings.Contains(se.Hint(), tt.want) {
				t.Errorf("err = %v, hint %q; want a hint containing %q", err, hintOf(err), tt.want)
			}
		})
	}
}

func hintOf(err error) string {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Hint()
	}
	return ""
}

// TestLookupRetriesAreObserved checks that OnLookupRetry hears of every
// failed attempt LookupUntil retries, with its hint, and not of the
// success.
func TestLookupRetriesAreObserved(t *testing.T) {
	f := &fakeIronic{failLookups: 2}
	ts := httptest.NewServer(f)
	defer ts.Close()
	var attempts []int
	var hints []string
	c := &Client{BaseURL: ts.URL, OnLookupRetry: func(attempt int, err error, retryIn time.Duration) {
		attempts = append(attempts, attempt)
		hints = append(hints, hintOf(err))
		if retryIn < time.Millisecond {
			t.Errorf("retry in %s, want at least the interval", retryIn)
		}
	}}
	if _, err := c.LookupUntil(context.Background(), []string{"52:54:00:12:34:56"}, "", time.Minute, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(attempts) != "[1 2]" || !strings.HasPrefix(hints[0], "Ironic does not know a node with MACs [52:54:00:12:34:56]") {
		t.Errorf("observed attempts %v, hints %q", attempts, hints)
	}
}
