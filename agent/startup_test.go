package agent

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

func TestWaitForDisks(t *testing.T) {
	notYet := errors.New("DeviceNotFound")
	tests := []struct {
		name      string
		attempts  int
		answers   []error // one per probe; past the end: the last
		wantCalls int
	}{
		{name: "found at once", attempts: 10, answers: []error{nil}, wantCalls: 1},
		{name: "found on the third attempt", attempts: 10, answers: []error{notYet, notYet, nil}, wantCalls: 3},
		{name: "never found: gives up after the attempts", attempts: 4, answers: []error{notYet}, wantCalls: 4},
		{name: "0 attempts: no wait", attempts: 0, answers: []error{notYet}, wantCalls: 0},
		{name: "no manager implements the method: no wait", attempts: 10, answers: []error{errNoInstallDeviceMethod}, wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			probe := func(context.Context) (string, error) {
				err := tt.answers[min(calls, len(tt.answers)-1)]
				calls++
				if err != nil {
					return "", err
				}
				return "/dev/sda", nil
			}
			if err := waitForDisks(context.Background(), hclog.NewNullLogger(), tt.attempts, time.Millisecond, probe); err != nil {
				t.Fatalf("waitForDisks: %v", err)
			}
			if calls != tt.wantCalls {
				t.Errorf("probed %d times, want %d", calls, tt.wantCalls)
			}
		})
	}
}

func TestWaitForDisksSleepsBetweenAttempts(t *testing.T) {
	start := time.Now()
	probe := func(context.Context) (string, error) { return "", errors.New("DeviceNotFound") }
	if err := waitForDisks(context.Background(), hclog.NewNullLogger(), 3, 20*time.Millisecond, probe); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 40*time.Millisecond {
		t.Errorf("3 attempts 20ms apart took %s, want at least 40ms (2 pauses, none after the last)", took)
	}
}

func TestWaitForDisksStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	probe := func(context.Context) (string, error) { cancel(); return "", errors.New("DeviceNotFound") }
	err := waitForDisks(ctx, hclog.NewNullLogger(), 10, time.Hour, probe)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("waitForDisks = %v, want context.Canceled", err)
	}
}
