//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// logf prints a timestamped progress line. The rig prints to stdout
// rather than t.Logf so that lines appear while the test runs and
// PHASE lines stay greppable.
func logf(format string, args ...any) {
	fmt.Printf("    %s %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

// phaseResult is one row of the summary table.
type phaseResult struct {
	name     string
	status   string // PASS, FAIL or SKIP
	duration time.Duration
	err      error
	note     string // why a phase was skipped by configuration
}

// phaseRunner runs the named phases in order. After a failure the
// remaining phases are skipped, since each builds on the previous one.
type phaseRunner struct {
	t       *testing.T
	ctx     context.Context
	results []phaseResult
	failed  bool
	// onFail prints diagnostics for a failed phase.
	onFail func(name string, err error)
	// onStart runs before each phase (the rig resets per-phase state).
	onStart func(name string)
}

// run executes one phase and prints `PHASE <name> PASS|FAIL <duration>`.
func (pr *phaseRunner) run(name string, fn func(ctx context.Context) error) {
	if pr.failed {
		pr.results = append(pr.results, phaseResult{name: name, status: "SKIP"})
		fmt.Printf("PHASE %s SKIP 0s\n", name)
		return
	}
	fmt.Printf("=== PHASE %s\n", name)
	if pr.onStart != nil {
		pr.onStart(name)
	}
	start := time.Now()
	err := runGuarded(pr.ctx, fn)
	d := time.Since(start).Round(100 * time.Millisecond)
	if err != nil {
		pr.failed = true
		pr.results = append(pr.results, phaseResult{name: name, status: "FAIL", duration: d, err: err})
		fmt.Printf("PHASE %s FAIL %s\n    error: %v\n", name, d, err)
		if pr.onFail != nil {
			pr.onFail(name, err)
		}
		pr.t.Errorf("phase %s failed: %v", name, err)
		return
	}
	pr.results = append(pr.results, phaseResult{name: name, status: "PASS", duration: d})
	fmt.Printf("PHASE %s PASS %s\n", name, d)
}

// skip records a phase that is not run in this configuration and says
// why; the phases after it still run.
func (pr *phaseRunner) skip(name, why string) {
	pr.results = append(pr.results, phaseResult{name: name, status: "SKIP", note: why})
	fmt.Printf("PHASE %s SKIP 0s (%s)\n", name, why)
}

// runGuarded turns a panic in a phase into an error, so that the summary
// and the cleanups still run.
func runGuarded(ctx context.Context, fn func(ctx context.Context) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return fn(ctx)
}

// summary prints the table of all phases.
func (pr *phaseRunner) summary() {
	var b strings.Builder
	b.WriteString("\n==================== metalagent e2e summary ====================\n")
	fmt.Fprintf(&b, "%-20s %-6s %10s  %s\n", "PHASE", "RESULT", "DURATION", "ERROR")
	var total time.Duration
	for _, r := range pr.results {
		total += r.duration
		msg := ""
		if r.err != nil {
			msg = firstLine(r.err.Error(), 120)
		} else if r.note != "" {
			msg = firstLine(r.note, 120)
		}
		fmt.Fprintf(&b, "%-20s %-6s %10s  %s\n", r.name, r.status, r.duration, msg)
	}
	fmt.Fprintf(&b, "%-20s %-6s %10s\n", "total", "", total.Round(100*time.Millisecond))
	b.WriteString("================================================================\n")
	fmt.Print(b.String())
}

// firstLine shortens a message to its first line and at most n runes.
func firstLine(s string, n int) string {
	s, _, _ = strings.Cut(s, "\n")
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// checkList runs named checks, prints each outcome, and returns all
// failures joined.
type check struct {
	name string
	run  func(ctx context.Context) error
}

func runChecks(ctx context.Context, checks []check) error {
	var errs []error
	for _, c := range checks {
		if err := c.run(ctx); err != nil {
			logf("check FAIL: %s: %v", c.name, err)
			errs = append(errs, fmt.Errorf("%s: %w", c.name, err))
			continue
		}
		logf("check ok:   %s", c.name)
	}
	return errors.Join(errs...)
}
