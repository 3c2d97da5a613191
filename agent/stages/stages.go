// Package stages records the agent's boot stages — plugins loaded, disk
// wait, inventory, inspection, network, lookup, API serving, heartbeating —
// so that a node that is "stuck" says where and why: each stage's state,
// start, duration, attempts and last error with its likely cause. A
// Tracker logs one line per change, and its Report feeds GET /v1/status
// and the heartbeat's agent_status_message.
//
// Every method is safe for concurrent use and a no-op on a nil Tracker,
// so that code run outside an agent's boot (command-line tools, tests)
// needs no tracker.
package stages

import (
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// State is where a stage is.
type State string

// The states of a stage.
const (
	// Pending: not started yet.
	Pending State = "pending"
	// Running: started, not finished; failed attempts may have been
	// retried (see Stage.Attempts and Stage.Error).
	Running State = "running"
	// Done: finished successfully.
	Done State = "done"
	// Failed: finished without success. The boot may go on (inspection,
	// disk wait) or end (lookup, inventory).
	Failed State = "failed"
	// Skipped: does not apply to this boot (standalone, not configured).
	Skipped State = "skipped"
)

// Names of the boot stages, as logged and reported.
const (
	Plugins    = "plugins loaded"
	DiskWait   = "disk wait"
	Inventory  = "inventory"
	Inspection = "inspection"
	Network    = "network"
	Lookup     = "lookup"
	API        = "API serving"
	Heartbeat  = "heartbeating"
)

// Boot is the agent's stages in boot order.
var Boot = []string{Plugins, DiskWait, Inventory, Inspection, Network, Lookup, API, Heartbeat}

// Tracker records the stages of one boot.
type Tracker struct {
	log   hclog.Logger
	start time.Time
	// now is time.Now, replaced by tests.
	now func() time.Time

	mu     sync.Mutex
	stages []*entry
}

// entry is one stage's record.
type entry struct {
	name     string
	state    State
	started  time.Time
	ended    time.Time
	attempts int
	err      string
	cause    string
	warnings []string
	details  map[string]any
	// logged is the error and cause last logged, so that a retry failing
	// the same way is not logged again at error level.
	logged string
	// Heartbeating only (see Beat).
	beats, accepted, consecutive int
	lastBeat                     time.Time
	lastOK                       bool
}

// New returns a tracker whose stages are names, pending, in that order;
// start is the process start, from which "since_start" is measured.
func New(log hclog.Logger, start time.Time, names ...string) *Tracker {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	t := &Tracker{log: log, start: start, now: time.Now}
	for _, n := range names {
		t.stages = append(t.stages, &entry{name: n, state: Pending})
	}
	return t
}

// get returns the named stage, added at the end when it was not declared.
// t.mu is held.
func (t *Tracker) get(name string) *entry {
	for _, e := range t.stages {
		if e.name == name {
			return e
		}
	}
	e := &entry{name: name, state: Pending}
	t.stages = append(t.stages, e)
	return e
}

// begin starts e at now when it has not started: a stage reported done or
// failed without Start took one attempt and no time.
func begin(e *entry, now time.Time) {
	if e.state == Pending || e.started.IsZero() {
		e.started = now
	}
	e.attempts = max(e.attempts, 1)
}

// Start marks the stage running, its first attempt under way. Starting a
// stage again (after Done or Fail) starts it afresh. kv are details
// (key, value pairs) shown with the stage and logged.
func (t *Tracker) Start(name string, kv ...any) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.get(name)
	*e = entry{name: name, state: Running, started: t.now(), attempts: 1, details: e.details}
	e.merge(kv)
	t.log.Info("stage started", append([]any{"stage", name}, kv...)...)
}

// Retry records that the current attempt failed with err and that the
// next one begins. The first failure, and any that fails differently from
// the last one logged, is logged at error level with its cause; repeats
// only at debug level.
func (t *Tracker) Retry(name string, err error, kv ...any) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.get(name)
	now := t.now()
	begin(e, now)
	e.state = Running
	e.setErr(err)
	e.merge(kv)
	args := append([]any{"stage", name, "attempt", e.attempts, "error", e.err}, withCause(e.cause, kv)...)
	args = append(args, "running_for", now.Sub(e.started).Round(time.Millisecond))
	if text := e.err + e.cause; text != e.logged {
		e.logged = text
		t.log.Error("stage attempt failed; retrying", args...)
	} else {
		t.log.Debug("stage attempt failed again; retrying", args...)
	}
	e.attempts++
}

// Done marks the stage finished successfully; kv are details.
func (t *Tracker) Done(name string, kv ...any) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.get(name)
	now := t.now()
	begin(e, now)
	e.state, e.ended, e.err, e.cause = Done, now, "", ""
	e.merge(kv)
	args := append([]any{"stage", name}, kv...)
	if e.attempts > 1 {
		args = append(args, "attempts", e.attempts)
	}
	args = append(args, "took", now.Sub(e.started).Round(time.Microsecond),
		"since_start", now.Sub(t.start).Round(time.Microsecond))
	t.log.Info("stage done", args...)
}

// Fail marks the stage finished without success, because of err; kv are
// details. It is logged at error level with the error's likely cause.
func (t *Tracker) Fail(name string, err error, kv ...any) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.get(name)
	now := t.now()
	begin(e, now)
	e.state, e.ended = Failed, now
	e.setErr(err)
	e.logged = e.err + e.cause
	e.merge(kv)
	args := append([]any{"stage", name, "error", e.err}, withCause(e.cause, kv)...)
	args = append(args, "attempts", e.attempts, "took", now.Sub(e.started).Round(time.Millisecond),
		"since_start", now.Sub(t.start).Round(time.Millisecond))
	t.log.Error("stage failed", args...)
}

// Skip marks the stage as not applying to this boot, for reason.
func (t *Tracker) Skip(name, reason string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.get(name)
	e.state = Skipped
	if !e.started.IsZero() {
		e.ended = t.now()
	}
	e.merge([]any{"reason", reason})
	t.log.Info("stage skipped", "stage", name, "reason", reason)
}

// Warn notes a problem of the stage that does not stop it (a plugin that
// failed to start, a token already handed out); it is logged at warning
// level and reported with the stage and in the summary.
func (t *Tracker) Warn(name, problem string, kv ...any) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.get(name)
	e.warnings = append(e.warnings, problem)
	t.log.Warn(name+": "+problem, kv...)
}

// State returns the named stage's state (Pending for an unknown stage).
func (t *Tracker) State(name string) State {
	if t == nil {
		return Pending
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, e := range t.stages {
		if e.name == name {
			return e.state
		}
	}
	return Pending
}

// setErr records err and its likely cause.
func (e *entry) setErr(err error) {
	if err == nil {
		e.err, e.cause = "", ""
		return
	}
	e.err, e.cause = err.Error(), Explain(err)
}

// merge adds the key, value pairs of kv to the stage's details.
func (e *entry) merge(kv []any) {
	for i := 0; i+1 < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			k = fmt.Sprint(kv[i])
		}
		if e.details == nil {
			e.details = map[string]any{}
		}
		e.details[k] = kv[i+1]
	}
}

// withCause puts the cause, when there is one, before kv for a log line.
func withCause(cause string, kv []any) []any {
	if cause == "" {
		return kv
	}
	return append([]any{"cause", cause}, kv...)
}

// Stage is one stage as reported by GET /v1/status.
type Stage struct {
	Name  string `json:"name"`
	State State  `json:"state"`
	// StartedAt is when it started (UNIX seconds, as IPA's started_at);
	// nil while pending or when skipped.
	StartedAt *float64 `json:"started_at"`
	// Duration is in seconds: so far while running, in all once ended;
	// nil while pending.
	Duration *float64 `json:"duration"`
	// Attempts counts attempts, the one under way included.
	Attempts int `json:"attempts"`
	// Error is the last attempt's error while running or failed; Cause
	// what it most likely means.
	Error    string         `json:"error,omitempty"`
	Cause    string         `json:"cause,omitempty"`
	Warnings []string       `json:"warnings,omitempty"`
	Details  map[string]any `json:"details,omitempty"`
}

// Stages returns every stage in order, as now.
func (t *Tracker) Stages() []Stage {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	out := make([]Stage, 0, len(t.stages))
	for _, e := range t.stages {
		out = append(out, e.report(now))
	}
	return out
}

// report is e as reported at now.
func (e *entry) report(now time.Time) Stage {
	s := Stage{Name: e.name, State: e.state, Attempts: e.attempts, Error: e.err, Cause: e.cause,
		Warnings: append([]string(nil), e.warnings...), Details: maps.Clone(e.details)}
	if !e.started.IsZero() {
		at := unixSeconds(e.started)
		s.StartedAt = &at
		end := now
		if e.state != Running && !e.ended.IsZero() {
			end = e.ended
		}
		d := end.Sub(e.started).Seconds()
		s.Duration = &d
	}
	if e.beats > 0 {
		if s.Details == nil {
			s.Details = map[string]any{}
		}
		outcome := "failed"
		if e.lastOK {
			outcome = "accepted"
		}
		s.Details["last_heartbeat_at"] = unixSeconds(e.lastBeat)
		s.Details["last_outcome"] = outcome
		s.Details["heartbeats"] = e.beats
		s.Details["accepted"] = e.accepted
		s.Details["consecutive_failures"] = e.consecutive
	}
	return s
}

// unixSeconds is t in UNIX seconds with sub-second precision.
func unixSeconds(t time.Time) float64 {
	return float64(t.UnixNano()) / 1e9
}
