//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// trackerInterval is how often the tracker polls the node. Transient
// states shorter than this may be missed in the history; the states the
// rig waits for (wait states and stable states) last much longer.
const trackerInterval = 500 * time.Millisecond

// nodeTracker polls one node in the background, keeps the latest view
// and records every change of its provision state, target, power state,
// current step and last error: the provision state history printed when
// a phase fails.
type nodeTracker struct {
	client *ironicClient
	ident  string

	mu        sync.Mutex
	last      *node
	lastErr   error
	lastFetch time.Time // when the request that returned last was sent
	lastKey   string
	history   []string
	start     time.Time

	cancel context.CancelFunc
	done   chan struct{}
}

// startTracker begins polling the node until stop is called.
func startTracker(client *ironicClient, ident string) *nodeTracker {
	ctx, cancel := context.WithCancel(context.Background())
	tr := &nodeTracker{client: client, ident: ident, cancel: cancel, done: make(chan struct{}), start: time.Now()}
	tr.poll(ctx)
	go func() {
		defer close(tr.done)
		tick := time.NewTicker(trackerInterval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				tr.poll(ctx)
			}
		}
	}()
	return tr
}

// stop ends the polling.
func (tr *nodeTracker) stop() {
	tr.cancel()
	<-tr.done
}

// poll fetches the node once and records a change.
func (tr *nodeTracker) poll(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	sent := time.Now()
	n, err := tr.client.getNode(ctx, tr.ident)
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if err != nil {
		if ctx.Err() == nil {
			tr.lastErr = err
		}
		return
	}
	if sent.Before(tr.lastFetch) {
		return // a slow answer older than the view already held
	}
	tr.last, tr.lastErr, tr.lastFetch = n, nil, sent
	key := describeNode(n)
	if key != tr.lastKey {
		tr.lastKey = key
		line := fmt.Sprintf("+%6.1fs  %s", time.Since(tr.start).Seconds(), key)
		tr.history = append(tr.history, line)
		logf("node: %s", key)
	}
}

// describeNode renders the fields whose changes make up the history.
func describeNode(n *node) string {
	s := fmt.Sprintf("provision=%q target=%q power=%q", n.ProvisionState, str(n.TargetProvisionState), str(n.PowerState))
	if step := stepName(n.CleanStep); step != "" {
		s += " clean_step=" + step
	}
	if step := stepName(n.DeployStep); step != "" {
		s += " deploy_step=" + step
	}
	if n.Maintenance {
		s += fmt.Sprintf(" maintenance=%q", str(n.MaintenanceReason))
	}
	if e := str(n.LastError); e != "" {
		s += fmt.Sprintf(" last_error=%q", e)
	}
	return s
}

// stepName renders a clean or deploy step as interface.step.
func stepName(step map[string]any) string {
	if len(step) == 0 {
		return ""
	}
	return fmt.Sprintf("%v.%v", step["interface"], step["step"])
}

// latest returns the most recent view of the node (nil before the first
// successful poll) and the error of the last poll, if it failed.
func (tr *nodeTracker) latest() (*node, error) {
	n, _, err := tr.view()
	return n, err
}

// view is latest plus the time the request for that view was sent.
func (tr *nodeTracker) view() (*node, time.Time, error) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.last, tr.lastFetch, tr.lastErr
}

// historyText returns the recorded transitions, one per line.
func (tr *nodeTracker) historyText() string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return strings.Join(tr.history, "\n")
}

// waitSpec describes one wait for a provision state.
type waitSpec struct {
	want    string        // provision state to reach
	failOn  []string      // provision states that end the wait with an error
	timeout time.Duration // how long to wait
	// check, if set, runs on every poll and ends the wait with its error
	// (for example when the agent process died).
	check func(n *node) error
	// after, if set, ignores views requested before it: right after the
	// rig requests a transition, the last view may still show the old
	// state (for example "deploy failed" when redeploying from it).
	after time.Time
}

// waitFor blocks until the node reaches spec.want and returns the node.
// A fail state, a failed check or the timeout return an error that names
// the node's state and last_error.
func (tr *nodeTracker) waitFor(ctx context.Context, spec waitSpec) (*node, error) {
	deadline := time.Now().Add(spec.timeout)
	for {
		n, fetched, err := tr.view()
		if fetched.Before(spec.after) {
			n = nil
		}
		if n != nil {
			switch {
			case n.ProvisionState == spec.want:
				return n, nil
			case slices.Contains(spec.failOn, n.ProvisionState):
				return n, fmt.Errorf("node reached %q while waiting for %q; last_error: %s",
					n.ProvisionState, spec.want, orNone(str(n.LastError)))
			}
			if spec.check != nil {
				if cerr := spec.check(n); cerr != nil {
					return n, fmt.Errorf("while waiting for %q (node is %q): %w", spec.want, n.ProvisionState, cerr)
				}
			}
		}
		if time.Now().After(deadline) {
			state, lastErr := "unknown", ""
			if n != nil {
				state, lastErr = n.ProvisionState, str(n.LastError)
			}
			return n, fmt.Errorf("node did not reach %q within %s; it is %q; last_error: %s; last poll error: %v",
				spec.want, spec.timeout, state, orNone(lastErr), err)
		}
		select {
		case <-ctx.Done():
			return n, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// orNone renders an empty string as "(none)".
func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
