package stages

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"
)

// t0 is the fake process start.
var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// clock is a fake time source tests advance by hand.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time          { return c.now }
func (c *clock) advance(d time.Duration) { c.now = c.now.Add(d) }

// logLine is one JSON log line, reduced to what the tests check.
type logLine struct {
	Level, Message, Stage string
}

// newTracker returns a tracker of names on a fake clock at t0, and its
// log.
func newTracker(names ...string) (*Tracker, *clock, *bytes.Buffer) {
	var buf bytes.Buffer
	log := hclog.New(&hclog.LoggerOptions{Output: &buf, Level: hclog.Debug, JSONFormat: true})
	c := &clock{now: t0}
	tr := New(log, t0, names...)
	tr.now = c.Now
	return tr, c, &buf
}

// lines parses the log.
func lines(t *testing.T, buf *bytes.Buffer) []logLine {
	t.Helper()
	var out []logLine
	sc := bufio.NewScanner(bytes.NewReader(buf.Bytes()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		stage, _ := m["stage"].(string)
		out = append(out, logLine{Level: m["@level"].(string), Message: m["@message"].(string), Stage: stage})
	}
	return out
}

func fptr(f float64) *float64 { return &f }

// hinted is an error with a hint, as the Ironic client's are.
type hinted struct{ msg, hint string }

func (h hinted) Error() string { return h.msg }
func (h hinted) Hint() string  { return h.hint }

func TestStageLifecycles(t *testing.T) {
	notFound := hinted{"lookup: Ironic answered 404", "Ironic does not know a node with MACs [52:54:00:12:34:56]"}
	tests := []struct {
		name string
		// run acts on the tracker (stage "s"), advancing the clock.
		run  func(tr *Tracker, c *clock)
		want Stage
		logs []logLine
	}{
		{"never started", func(*Tracker, *clock) {},
			Stage{Name: "s", State: Pending}, nil},
		{"started, still running after 2s", func(tr *Tracker, c *clock) {
			c.advance(time.Second)
			tr.Start("s", "detail", "x")
			c.advance(2 * time.Second)
		}, Stage{Name: "s", State: Running, StartedAt: fptr(unixSeconds(t0) + 1), Duration: fptr(2), Attempts: 1,
			Details: map[string]any{"detail": "x"}},
			[]logLine{{"info", "stage started", "s"}}},
		{"done first time", func(tr *Tracker, c *clock) {
			tr.Start("s")
			c.advance(150 * time.Millisecond)
			tr.Done("s", "managers", 2)
			c.advance(time.Hour) // a done stage's duration stays
		}, Stage{Name: "s", State: Done, StartedAt: fptr(unixSeconds(t0)), Duration: fptr(0.15), Attempts: 1,
			Details: map[string]any{"managers": 2}},
			[]logLine{{"info", "stage started", "s"}, {"info", "stage done", "s"}}},
		{"done without start: one attempt, no time", func(tr *Tracker, c *clock) {
			c.advance(time.Second)
			tr.Done("s")
		}, Stage{Name: "s", State: Done, StartedAt: fptr(unixSeconds(t0) + 1), Duration: fptr(0), Attempts: 1},
			[]logLine{{"info", "stage done", "s"}}},
		{"retried the same way, then done: one error line", func(tr *Tracker, c *clock) {
			tr.Start("s")
			for range 3 {
				c.advance(time.Second)
				tr.Retry("s", notFound)
			}
			c.advance(time.Second)
			tr.Done("s")
		}, Stage{Name: "s", State: Done, StartedAt: fptr(unixSeconds(t0)), Duration: fptr(4), Attempts: 4},
			[]logLine{{"info", "stage started", "s"}, {"error", "stage attempt failed; retrying", "s"},
				{"debug", "stage attempt failed again; retrying", "s"}, {"debug", "stage attempt failed again; retrying", "s"},
				{"info", "stage done", "s"}}},
		{"running with a changed error: logged again, cause kept", func(tr *Tracker, c *clock) {
			tr.Start("s")
			tr.Retry("s", errors.New("connection refused"))
			c.advance(time.Second)
			tr.Retry("s", notFound)
		}, Stage{Name: "s", State: Running, StartedAt: fptr(unixSeconds(t0)), Duration: fptr(1), Attempts: 3,
			Error: notFound.msg, Cause: notFound.hint},
			[]logLine{{"info", "stage started", "s"}, {"error", "stage attempt failed; retrying", "s"},
				{"error", "stage attempt failed; retrying", "s"}}},
		{"failed after retries", func(tr *Tracker, c *clock) {
			tr.Start("s")
			tr.Retry("s", notFound)
			c.advance(300 * time.Second)
			tr.Fail("s", fmt.Errorf("lookup did not succeed within 5m0s: %w", notFound))
		}, Stage{Name: "s", State: Failed, StartedAt: fptr(unixSeconds(t0)), Duration: fptr(300), Attempts: 2,
			Error: "lookup did not succeed within 5m0s: " + notFound.msg, Cause: notFound.hint},
			[]logLine{{"info", "stage started", "s"}, {"error", "stage attempt failed; retrying", "s"},
				{"error", "stage failed", "s"}}},
		{"skipped", func(tr *Tracker, c *clock) { tr.Skip("s", "standalone") },
			Stage{Name: "s", State: Skipped, Details: map[string]any{"reason": "standalone"}},
			[]logLine{{"info", "stage skipped", "s"}}},
		{"done with a warning", func(tr *Tracker, c *clock) {
			tr.Done("s")
			tr.Warn("s", "plugin raid failed to start")
		}, Stage{Name: "s", State: Done, StartedAt: fptr(unixSeconds(t0)), Duration: fptr(0), Attempts: 1,
			Warnings: []string{"plugin raid failed to start"}},
			[]logLine{{"info", "stage done", "s"}, {"warn", "s: plugin raid failed to start", ""}}},
		{"started again after failing", func(tr *Tracker, c *clock) {
			tr.Fail("s", errors.New("boom"))
			c.advance(time.Second)
			tr.Start("s")
		}, Stage{Name: "s", State: Running, StartedAt: fptr(unixSeconds(t0) + 1), Duration: fptr(0), Attempts: 1},
			[]logLine{{"error", "stage failed", "s"}, {"info", "stage started", "s"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, c, buf := newTracker("s")
			tt.run(tr, c)
			got := tr.Stages()
			if len(got) != 1 {
				t.Fatalf("stages = %+v, want one", got)
			}
			if diff := cmp.Diff(tt.want, got[0]); diff != "" {
				t.Errorf("stage (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.logs, lines(t, buf)); diff != "" {
				t.Errorf("log (-want +got):\n%s\n%s", diff, buf)
			}
		})
	}
}

func TestUndeclaredStageIsAppended(t *testing.T) {
	tr, _, _ := newTracker(Plugins, Lookup)
	tr.Start("inspection")
	var names []string
	for _, s := range tr.Stages() {
		names = append(names, s.Name)
	}
	if diff := cmp.Diff([]string{Plugins, Lookup, "inspection"}, names); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	if got := tr.State("inspection"); got != Running {
		t.Errorf("State = %s, want running", got)
	}
}

func TestNilTrackerIsANoOp(t *testing.T) {
	var tr *Tracker
	tr.Start(Lookup)
	tr.Retry(Lookup, errors.New("x"))
	tr.Done(Lookup)
	tr.Fail(Lookup, errors.New("x"))
	tr.Skip(Lookup, "x")
	tr.Warn(Lookup, "x")
	tr.Beat(nil)
	if tr.Stages() != nil || tr.Summary() != "" || tr.State(Lookup) != Pending || tr.AgentStatus() != StatusRunning {
		t.Error("a nil tracker reports something")
	}
}

func TestLogLinesCarryTheCauseAndSinceStart(t *testing.T) {
	tr, c, buf := newTracker(Lookup)
	c.advance(2 * time.Second)
	tr.Start(Lookup)
	tr.Retry(Lookup, hinted{"lookup: Ironic answered 404", "Ironic does not know a node with MACs [m]"})
	c.advance(time.Second)
	tr.Done(Lookup, "node", "n-1")
	out := buf.String()
	for _, want := range []string{`"cause":"Ironic does not know a node with MACs [m]"`, `"attempt":1`,
		`"since_start":3000000000`, `"took":1000000000`, `"node":"n-1"`, `"attempts":2`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
}
