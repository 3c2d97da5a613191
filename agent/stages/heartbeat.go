package stages

import "time"

// Beat records one heartbeat's outcome (err nil: Ironic accepted it) in
// the heartbeating stage, which never ends: it is done from the first
// accepted heartbeat while they are accepted, failed while they are
// refused or unanswered, and counts heartbeats, acceptances and the
// failures in a row. Logged are the first acceptance ("stage done"), a
// recovery, and a failure whose error differs from the last one logged;
// repeats only at debug level, since heartbeats go on for hours.
func (t *Tracker) Beat(err error) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.get(Heartbeat)
	now := t.now()
	if e.started.IsZero() {
		e.started = now
	}
	e.beats++
	e.attempts = e.beats
	e.lastBeat, e.lastOK = now, err == nil
	if err == nil {
		failures, was := e.consecutive, e.state
		e.accepted++
		e.consecutive = 0
		e.state, e.err, e.cause, e.logged = Done, "", "", ""
		switch {
		case e.accepted == 1:
			e.ended = now
			t.log.Info("stage done", "stage", Heartbeat, "attempts", e.beats,
				"took", now.Sub(e.started).Round(time.Microsecond), "since_start", now.Sub(t.start).Round(time.Microsecond))
		case was == Failed:
			t.log.Info("stage recovered: Ironic accepts heartbeats again", "stage", Heartbeat, "failed_in_a_row", failures)
		}
		return
	}
	e.consecutive++
	e.state = Failed
	e.setErr(err)
	args := append([]any{"stage", Heartbeat, "error", e.err}, withCause(e.cause, nil)...)
	args = append(args, "failed_in_a_row", e.consecutive, "accepted_before", e.accepted)
	if text := e.err + e.cause; text != e.logged {
		e.logged = text
		t.log.Error("stage failed: heartbeat not accepted; retrying", args...)
	} else {
		t.log.Debug("heartbeat not accepted again; retrying", args...)
	}
}
