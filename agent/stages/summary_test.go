package stages

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func TestSummaryAndAgentStatus(t *testing.T) {
	boot := []string{Plugins, DiskWait, Inventory, Inspection, Network, Lookup, API, Heartbeat}
	tests := []struct {
		name    string
		run     func(tr *Tracker, c *clock)
		summary string
		status  string
	}{
		{"nothing yet", func(*Tracker, *clock) {}, "before plugins loaded", StatusRunning},
		{"waiting at lookup", func(tr *Tracker, c *clock) {
			for _, s := range []string{Plugins, DiskWait, Inventory} {
				c.advance(10 * time.Millisecond)
				tr.Done(s)
			}
			tr.Skip(Inspection, "no inspection_callback_url")
			tr.Done(Network)
			tr.Start(Lookup)
			c.advance(20 * time.Second)
			tr.Retry(Lookup, hinted{"lookup: Ironic answered 404", "Ironic does not know a node with MACs [m]"})
			c.advance(22 * time.Second)
		}, "at lookup for 42s (attempt 2): Ironic does not know a node with MACs [m]", StatusRunning},
		{"between two stages", func(tr *Tracker, c *clock) {
			tr.Done(Plugins)
		}, "before disk wait", StatusRunning},
		{"all done, a warning and a failed inspection", func(tr *Tracker, c *clock) {
			tr.Done(Plugins)
			tr.Warn(Plugins, "plugin raid failed: handshake timed out")
			c.advance(30 * time.Millisecond)
			tr.Fail(DiskWait, errors.New("no suitable device"))
			tr.Done(Inventory)
			tr.Fail(Inspection, errors.New("inspector answered 400"))
			tr.Done(Network)
			tr.Done(Lookup)
			c.advance(112 * time.Millisecond)
			tr.Done(API)
			c.advance(time.Minute)
			tr.Beat(nil)
		}, "boot stages done in 142ms; plugins loaded: plugin raid failed: handshake timed out; disk wait failed: no suitable device; " +
			"inspection failed: inspector answered 400", StatusError},
		{"heartbeating started, none answered yet", func(tr *Tracker, c *clock) {
			for _, s := range boot[:len(boot)-1] {
				tr.Done(s)
			}
			tr.Start(Heartbeat)
			c.advance(time.Second)
		}, "boot stages done in 0s", StatusRunning},
		{"heartbeat failures alone are not an error status", func(tr *Tracker, c *clock) {
			for _, s := range boot[:len(boot)-1] {
				tr.Done(s)
			}
			tr.Beat(errors.New("503"))
		}, "boot stages done in 0s; the last 1 heartbeat(s) failed: 503", StatusRunning},
		{"standalone", func(tr *Tracker, c *clock) {
			c.advance(90 * time.Millisecond)
			for _, s := range []string{Plugins, DiskWait, Inventory, Network, API} {
				tr.Done(s)
			}
			for _, s := range []string{Inspection, Lookup, Heartbeat} {
				tr.Skip(s, "standalone")
			}
		}, "boot stages done in 90ms", StatusRunning},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, c, _ := newTracker(boot...)
			tt.run(tr, c)
			if got := tr.Summary(); got != tt.summary {
				t.Errorf("Summary = %q\nwant      %q", got, tt.summary)
			}
			if got := tr.AgentStatus(); got != tt.status {
				t.Errorf("AgentStatus = %q, want %q", got, tt.status)
			}
		})
	}
}

// TestReportJSON checks the shape GET /v1/status carries under
// "metalagent".
func TestReportJSON(t *testing.T) {
	tr, c, _ := newTracker(Plugins, Lookup)
	tr.Done(Plugins, "managers", 2)
	tr.Start(Lookup)
	c.advance(1500 * time.Millisecond)
	b, err := json.Marshal(tr.Report())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"summary":"at lookup for 1.5s","stages":[` +
		`{"name":"plugins loaded","state":"done","started_at":1795600800,"duration":0,"attempts":1,"details":{"managers":2}},` +
		`{"name":"lookup","state":"running","started_at":1795600800,"duration":1.5,"attempts":1}]}`
	if string(b) != want {
		t.Errorf("report\n%s\nwant\n%s", b, want)
	}
}
