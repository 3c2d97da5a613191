package stages

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestBeat(t *testing.T) {
	refused := errors.New("heartbeat: Ironic answered 503")
	locked := errors.New("heartbeat: Ironic answered 409: Node n-1 is locked")
	type after struct {
		state                         State
		beats, accepted, consecutive  int
		outcome                       string
		logLevel, logMessage, summary string // the log line this beat added ("" for none)
	}
	tests := []struct {
		name  string
		beats []error
		want  []after
	}{
		{"accepted at once, then quiet", []error{nil, nil}, []after{
			{Done, 1, 1, 0, "accepted", "info", "stage done", "boot stages done in 10s"},
			{Done, 2, 2, 0, "accepted", "", "", "boot stages done in 10s"},
		}},
		{"refused twice the same way, then accepted", []error{refused, refused, nil}, []after{
			{Failed, 1, 0, 1, "failed", "error", "stage failed: heartbeat not accepted; retrying",
				"boot stages done in 10s; the last 1 heartbeat(s) failed: heartbeat: Ironic answered 503"},
			{Failed, 2, 0, 2, "failed", "debug", "heartbeat not accepted again; retrying",
				"boot stages done in 10s; the last 2 heartbeat(s) failed: heartbeat: Ironic answered 503"},
			{Done, 3, 1, 0, "accepted", "info", "stage done", "boot stages done in 10s"},
		}},
		{"an outage after success, a new error, recovery", []error{nil, refused, locked, nil}, []after{
			{Done, 1, 1, 0, "accepted", "info", "stage done", "boot stages done in 10s"},
			{Failed, 2, 1, 1, "failed", "error", "stage failed: heartbeat not accepted; retrying",
				"boot stages done in 10s; the last 1 heartbeat(s) failed: heartbeat: Ironic answered 503"},
			{Failed, 3, 1, 2, "failed", "error", "stage failed: heartbeat not accepted; retrying",
				"boot stages done in 10s; the last 2 heartbeat(s) failed: heartbeat: Ironic answered 409: Node n-1 is locked"},
			{Done, 4, 2, 0, "accepted", "info", "stage recovered: Ironic accepts heartbeats again", "boot stages done in 10s"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, c, buf := newTracker(Lookup, Heartbeat)
			c.advance(10 * time.Second)
			tr.Done(Lookup)
			logged := len(lines(t, buf))
			for i, err := range tt.beats {
				c.advance(time.Minute)
				tr.Beat(err)
				var hb Stage
				for _, s := range tr.Stages() {
					if s.Name == Heartbeat {
						hb = s
					}
				}
				got := after{state: hb.State, beats: hb.Attempts, outcome: hb.Details["last_outcome"].(string),
					summary: tr.Summary()}
				got.accepted, _ = hb.Details["accepted"].(int)
				got.consecutive, _ = hb.Details["consecutive_failures"].(int)
				if at := hb.Details["last_heartbeat_at"].(float64); at != unixSeconds(c.now) {
					t.Errorf("beat %d: last_heartbeat_at %v, want now", i, at)
				}
				if ls := lines(t, buf); len(ls) > logged {
					got.logLevel, got.logMessage = ls[len(ls)-1].Level, ls[len(ls)-1].Message
					logged = len(ls)
				}
				if diff := cmp.Diff(tt.want[i], got, cmp.AllowUnexported(after{})); diff != "" {
					t.Errorf("beat %d (-want +got):\n%s", i, diff)
				}
			}
		})
	}
}

func TestBeatDurationIsTimeToFirstAcceptance(t *testing.T) {
	tr, c, _ := newTracker(Heartbeat)
	tr.Beat(errors.New("503"))
	c.advance(7 * time.Second)
	tr.Beat(nil)
	c.advance(time.Hour)
	tr.Beat(nil)
	s := tr.Stages()[0]
	if s.Duration == nil || *s.Duration != 7 {
		t.Errorf("duration = %v, want 7 s (start to first accepted heartbeat)", s.Duration)
	}
}
