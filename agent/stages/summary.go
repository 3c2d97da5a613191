package stages

import (
	"fmt"
	"strings"
	"time"
)

// Report is what GET /v1/status adds to IPA's fields, under "metalagent".
type Report struct {
	// Summary is one line: where the boot is and what went wrong.
	Summary string `json:"summary"`
	// Stages are every stage, in boot order.
	Stages []Stage `json:"stages"`
}

// Report returns the stages and their summary, as now.
func (t *Tracker) Report() Report {
	if t == nil {
		return Report{}
	}
	st := t.Stages()
	return Report{Summary: summarize(st, t.start), Stages: st}
}

// Summary returns one line saying where the boot is and what went wrong:
// the stage it waits at (for how long, which attempt, the last error's
// cause), or how long the boot took; then failed stages and warnings.
func (t *Tracker) Summary() string {
	if t == nil {
		return ""
	}
	return summarize(t.Stages(), t.start)
}

// Ironic's heartbeat agent_status values (API 1.72). Ironic accepts
// "start", "end" and "error", stores them in the node's
// driver_internal_info, and only its anaconda deploy interface acts on
// them: "end" makes it boot the instance, "error" fails the deployment.
const (
	// StatusRunning ("start") is sent while no boot stage failed.
	StatusRunning = "start"
	// StatusError ("error") is sent once a boot stage failed.
	StatusError = "error"
)

// AgentStatus returns the heartbeat's agent_status for the boot:
// StatusError when a stage other than heartbeating failed (the message
// says which), StatusRunning otherwise. "end" is never sent: the agent's
// work is never over while it heartbeats, and Ironic's anaconda deploy
// interface would take "end" for a finished installation.
func (t *Tracker) AgentStatus() string {
	for _, s := range t.Stages() {
		if s.State == Failed && s.Name != Heartbeat {
			return StatusError
		}
	}
	return StatusRunning
}

// summarize builds Summary's line from the stages of a boot that started
// at start.
func summarize(stages []Stage, start time.Time) string {
	var where string
	var problems []string
	var end float64
	for _, s := range stages {
		if s.Name != Heartbeat && s.StartedAt != nil && s.Duration != nil {
			end = max(end, *s.StartedAt+*s.Duration)
		}
		switch {
		case s.State == Running && where == "" && s.Name != Heartbeat:
			where = fmt.Sprintf("at %s for %s", s.Name, seconds(s.Duration))
			if s.Attempts > 1 {
				where += fmt.Sprintf(" (attempt %d)", s.Attempts)
			}
			if why := reason(s); why != "" {
				where += ": " + why
			}
		case s.State == Failed && s.Name == Heartbeat:
			n, _ := s.Details["consecutive_failures"].(int)
			problems = append(problems, fmt.Sprintf("the last %d heartbeat(s) failed: %s", n, reason(s)))
		case s.State == Failed:
			problems = append(problems, fmt.Sprintf("%s failed: %s", s.Name, reason(s)))
		}
		for _, w := range s.Warnings {
			problems = append(problems, s.Name+": "+w)
		}
	}
	if where == "" {
		where = "boot stages done"
		for _, s := range stages {
			if s.State == Pending && s.Name != Heartbeat {
				where = "before " + s.Name
				break
			}
		}
		if where == "boot stages done" && end > 0 {
			took := time.Duration((end - unixSeconds(start)) * float64(time.Second))
			where += " in " + roundDuration(took).String()
		}
	}
	return strings.Join(append([]string{where}, problems...), "; ")
}

// reason is a stage's cause, else its error.
func reason(s Stage) string {
	if s.Cause != "" {
		return s.Cause
	}
	return s.Error
}

// seconds formats a duration in seconds for the summary.
func seconds(d *float64) string {
	if d == nil {
		return "0s"
	}
	return roundDuration(time.Duration(*d * float64(time.Second))).String()
}

// roundDuration keeps durations readable: milliseconds under a minute,
// seconds above.
func roundDuration(d time.Duration) time.Duration {
	if d < time.Minute {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Second)
}
