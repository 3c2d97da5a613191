// Package tooltest replays recorded outputs of external programs, so that
// a hardware manager's use of nvme, hdparm and the like is tested without
// the programs or the hardware.
//
// A test records, per command line (as tool.CommandLine renders it), the
// replies the program gave, in order:
//
//	r := tooltest.New(t, tooltest.Replies{
//		"nvme id-ctrl /dev/nvme0n1 -o json": {{Stdout: tooltest.File(t, "testdata/tools/nvme-id-ctrl-crypto.json")}},
//		"nvme format /dev/nvme0n1 -s 2 -f":  {{Exit: 1, Stderr: "NVMe status: INVALID_FORMAT(0x410a)"}},
//	})
//
// and gives r to the code under test as its tool.Runner. A command without
// a recorded reply left fails the test, and so does, when the test ends, a
// reply that was never asked for. Calls returns the command lines run, in
// order, for the test to compare with what it expects.
package tooltest

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/metalagent/metalagent/plugin-sdk/tool"
)

// Reply is one recorded run of a program.
type Reply struct {
	// Stdout and Stderr are what the program wrote.
	Stdout, Stderr string
	// Exit is its exit code; not 0 makes Run return a *tool.ExitError.
	Exit int
	// Missing makes Run answer as if the program were not installed (a
	// *tool.MissingError); the other fields are ignored.
	Missing bool
	// Before, when set, runs before the reply is given, for example to
	// change the system under test as the real program would.
	Before func()
}

// Replies are the recorded replies by command line, in the order the
// command gets them.
type Replies map[string][]Reply

// Runner is a tool.Runner that replays Replies. It is safe for concurrent
// use.
type Runner struct {
	t       testing.TB
	mu      sync.Mutex
	replies Replies
	missing map[string]bool
	calls   []string
}

var _ tool.Runner = (*Runner)(nil)

// New returns a Runner replaying replies. When the test ends, a reply not
// asked for fails it.
func New(t testing.TB, replies Replies) *Runner {
	t.Helper()
	r := &Runner{t: t, replies: Replies{}, missing: map[string]bool{}}
	for line, rs := range replies {
		r.replies[line] = append([]Reply(nil), rs...)
	}
	t.Cleanup(func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		for line, rs := range r.replies {
			if len(rs) > 0 {
				t.Errorf("tooltest: %d recorded replies of %q were never asked for", len(rs), line)
			}
		}
	})
	return r
}

// Missing makes every later run of the named programs answer as if they
// were not installed, whatever the arguments. It returns r.
func (r *Runner) Missing(names ...string) *Runner {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range names {
		r.missing[n] = true
	}
	return r
}

// Run records the command line and gives the next reply recorded for it.
// A command line with no reply left fails the test (with Errorf, so that
// it may be called from any goroutine) and returns an error.
func (r *Runner) Run(ctx context.Context, name string, args ...string) ([]byte, error) {
	line := tool.CommandLine(name, args...)
	r.mu.Lock()
	r.calls = append(r.calls, line)
	if r.missing[name] {
		r.mu.Unlock()
		return nil, &tool.MissingError{Name: name}
	}
	rs := r.replies[line]
	if len(rs) == 0 {
		r.mu.Unlock()
		r.t.Errorf("tooltest: unexpected command %q", line)
		return nil, fmt.Errorf("tooltest: unexpected command %q", line)
	}
	reply := rs[0]
	r.replies[line] = rs[1:]
	r.mu.Unlock()

	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", line, err)
	}
	if reply.Before != nil {
		reply.Before()
	}
	if reply.Missing {
		return nil, &tool.MissingError{Name: name}
	}
	if reply.Exit != 0 {
		return []byte(reply.Stdout), &tool.ExitError{
			Command: line, Code: reply.Exit, Stderr: tool.TrimStderr([]byte(reply.Stderr)),
			Err: fmt.Errorf("exit status %d", reply.Exit),
		}
	}
	return []byte(reply.Stdout), nil
}

// Calls returns the command lines run so far, in order.
func (r *Runner) Calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

// File returns the text of a recorded output file, such as a file under
// the test's testdata directory; a file it cannot read fails the test.
func File(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("tooltest: recorded output: %v", err)
	}
	return string(b)
}
