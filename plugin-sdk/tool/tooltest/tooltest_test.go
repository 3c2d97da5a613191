package tooltest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/metalagent/metalagent/plugin-sdk/tool"
)

// recorder is a testing.TB that keeps failures instead of reporting them,
// and runs its cleanups when told.
type recorder struct {
	testing.TB
	mu       sync.Mutex
	errors   []string
	cleanups []func()
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, a ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, a...))
}

func (r *recorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }

func (r *recorder) end() []string {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
	return r.errors
}

func TestReplay(t *testing.T) {
	rec := &recorder{TB: t}
	ran := false
	r := New(rec, Replies{
		"hdparm -I /dev/sda": {{Stdout: "before\n"}, {Stdout: "after\n", Before: func() { ran = true }}},
		"hdparm --user-master u --security-erase NULL /dev/sda": {{Exit: 5, Stderr: " SECURITY_ERASE: Input/output error \n"}},
		"nvme id-ctrl /dev/nvme0n1 -o json":                     {{Missing: true}},
	})
	ctx := context.Background()

	out, err := r.Run(ctx, "hdparm", "-I", "/dev/sda")
	if err != nil || string(out) != "before\n" {
		t.Errorf("first reply %q, %v", out, err)
	}
	_, err = r.Run(ctx, "hdparm", "--user-master", "u", "--security-erase", "NULL", "/dev/sda")
	var ee *tool.ExitError
	if !errors.As(err, &ee) || ee.Code != 5 || ee.Stderr != "SECURITY_ERASE: Input/output error" ||
		ee.Command != "hdparm --user-master u --security-erase NULL /dev/sda" {
		t.Errorf("failed run: %#v", err)
	}
	if out, err := r.Run(ctx, "hdparm", "-I", "/dev/sda"); err != nil || string(out) != "after\n" || !ran {
		t.Errorf("second reply %q, %v (hook ran: %v)", out, err, ran)
	}
	if _, err := r.Run(ctx, "nvme", "id-ctrl", "/dev/nvme0n1", "-o", "json"); !errors.Is(err, tool.ErrMissing) {
		t.Errorf("missing: %v", err)
	}
	r.Missing("smartctl")
	if _, err := r.Run(ctx, "smartctl", "-d", "ata", "/dev/sda", "-g", "security"); !errors.Is(err, tool.ErrMissing) {
		t.Errorf("Missing(smartctl): %v", err)
	}
	want := []string{
		"hdparm -I /dev/sda",
		"hdparm --user-master u --security-erase NULL /dev/sda",
		"hdparm -I /dev/sda",
		"nvme id-ctrl /dev/nvme0n1 -o json",
		"smartctl -d ata /dev/sda -g security",
	}
	if diff := cmp.Diff(want, r.Calls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	if errs := rec.end(); len(errs) != 0 {
		t.Errorf("a test using every reply failed: %q", errs)
	}
}

func TestReplayFailsTheTest(t *testing.T) {
	tests := []struct {
		name string
		run  []string // command lines run, split on spaces
		want []string
	}{
		{"unexpected command", []string{"hdparm -I /dev/sda", "hdparm -I /dev/sdb"},
			[]string{`tooltest: unexpected command "hdparm -I /dev/sdb"`}},
		{"replies exhausted", []string{"hdparm -I /dev/sda", "hdparm -I /dev/sda"},
			[]string{`tooltest: unexpected command "hdparm -I /dev/sda"`}},
		{"reply never asked for", nil,
			[]string{`tooltest: 1 recorded replies of "hdparm -I /dev/sda" were never asked for`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{TB: t}
			r := New(rec, Replies{"hdparm -I /dev/sda": {{Stdout: "x"}}})
			for _, line := range tt.run {
				f := strings.Fields(line)
				r.Run(context.Background(), f[0], f[1:]...)
			}
			if diff := cmp.Diff(tt.want, rec.end()); diff != "" {
				t.Errorf("failures (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReplayContext(t *testing.T) {
	r := New(t, Replies{"nvme list": {{Stdout: "x"}}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.Run(ctx, "nvme", "list"); !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
}

func TestFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "out.txt")
	if err := os.WriteFile(p, []byte("recorded\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := File(t, p); got != "recorded\n" {
		t.Errorf("File = %q", got)
	}
}
