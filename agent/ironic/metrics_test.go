package ironic

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/metalagent/metalagent/agent/metrics"
	"github.com/metalagent/metalagent/agent/metrics/metricstest"
)

// TestMetrics checks that every lookup attempt and every heartbeat is
// counted under its outcome.
func TestMetrics(t *testing.T) {
	tests := []struct {
		name                        string
		failLookups, failHeartbeats int
		heartbeats                  int
		lookupOK, lookupFail, hbOK  float64
		hbFail                      float64
	}{
		{"all accepted", 0, 0, 2, 1, 0, 2, 0},
		{"lookup retried, one heartbeat refused", 3, 1, 3, 1, 3, 2, 1},
		{"heartbeats all refused", 1, 4, 4, 1, 1, 0, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeIronic{failLookups: tc.failLookups, failHeartbeats: tc.failHeartbeats}
			ts := httptest.NewServer(f)
			defer ts.Close()
			m := metrics.New()
			c := &Client{BaseURL: ts.URL, Metrics: m}
			if _, err := c.LookupUntil(context.Background(), []string{"52:54:00:12:34:56"}, "", time.Minute, time.Millisecond); err != nil {
				t.Fatal(err)
			}
			for range tc.heartbeats {
				_ = c.Heartbeat(context.Background(), "n-1", HeartbeatRequest{CallbackURL: "http://192.0.2.1:9999"})
			}
			for _, w := range []struct {
				name, outcome string
				want          float64
			}{
				{"metalagent_lookups_total", "success", tc.lookupOK},
				{"metalagent_lookups_total", "failure", tc.lookupFail},
				{"metalagent_heartbeats_total", "success", tc.hbOK},
				{"metalagent_heartbeats_total", "failure", tc.hbFail},
			} {
				if got := metricstest.Value(t, m, w.name, map[string]string{"outcome": w.outcome}); got != w.want {
					t.Errorf("%s{outcome=%q} = %v, want %v", w.name, w.outcome, got, w.want)
				}
			}
		})
	}
}
