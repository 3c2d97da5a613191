package agent

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/metalagent/metalagent/agent/config"
)

func TestRetryLookup(t *testing.T) {
	noRoute := errors.New("network is unreachable")
	tests := []struct {
		name      string
		attempts  int
		failFirst int // calls that fail before one succeeds
		wantCalls int
		wantErr   bool
	}{
		{name: "first try", attempts: 6, failFirst: 0, wantCalls: 1},
		{name: "third try", attempts: 6, failFirst: 2, wantCalls: 3},
		{name: "all attempts fail", attempts: 3, failFirst: 99, wantCalls: 3, wantErr: true},
		{name: "attempts below 1 still try once", attempts: 0, failFirst: 99, wantCalls: 1, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			host, err := retryLookup(context.Background(), tt.attempts, time.Millisecond, func(context.Context) (string, error) {
				calls++
				if calls <= tt.failFirst {
					return "", noRoute
				}
				return "192.0.2.7", nil
			})
			if calls != tt.wantCalls {
				t.Errorf("%d calls, want %d", calls, tt.wantCalls)
			}
			if tt.wantErr {
				if !errors.Is(err, noRoute) {
					t.Errorf("error %v, want one wrapping the last failure", err)
				}
				return
			}
			if err != nil || host != "192.0.2.7" {
				t.Errorf("got %q, %v", host, err)
			}
		})
	}
}

func TestAdvertiseHost(t *testing.T) {
	tests := []struct {
		name    string
		cfg     config.Config
		want    string
		wantErr string
	}{
		{name: "advertise host wins", cfg: config.Config{AdvertiseHost: "10.1.2.3", NetworkInterface: "lo"}, want: "10.1.2.3"},
		{name: "network interface's IPv4", cfg: config.Config{NetworkInterface: "lo"}, want: "127.0.0.1"},
		{name: "missing interface", cfg: config.Config{NetworkInterface: "nosuchif0"}, wantErr: "nosuchif0"},
		{name: "route to Ironic", cfg: config.Config{APIURL: "http://127.0.0.1:6385", IPLookupAttempts: 1}, want: "127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &Agent{cfg: &tt.cfg}
			got, err := a.advertiseHost(context.Background())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one naming %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
