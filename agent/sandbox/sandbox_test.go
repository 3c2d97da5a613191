package sandbox

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/metalagent/metalagent/plugin-sdk/tool/tooltest"
)

// fixedClock makes the records' times predictable.
func fixedClock(s *Sandbox) {
	t0 := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	s.now = func() time.Time { return t0 }
}

func TestSandboxRecordsInsteadOfActing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sb")
	s, err := New(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	fixedClock(s)
	ctx := WithCommandID(context.Background(), "cmd-1")
	// A replaying runner with no replies: any real run fails the test.
	r := tooltest.New(t, nil)

	if err := s.WriteFile(ctx, "/etc/ipa-rescue-config/ipa-rescue-password", []byte("$6$salt$hash"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := s.Run(ctx, r, "interface eth0 would go down", "ip", "link", "set", "eth0", "down")
	if err != nil || len(out) != 0 {
		t.Fatalf("Run = %q, %v; want empty output, nil", out, err)
	}
	called := false
	if err := s.Do(context.Background(), "power", map[string]any{"action": "power off"}, "the machine would power off",
		func() error { called = true; return nil }); err != nil {
		t.Fatal(err)
	}
	if called || len(r.Calls()) != 0 {
		t.Errorf("sandboxed actions acted: power %v, programs %v", called, r.Calls())
	}

	written := filepath.Join(dir, "etc", "ipa-rescue-config", "ipa-rescue-password")
	if b, err := os.ReadFile(written); err != nil || string(b) != "$6$salt$hash" {
		t.Errorf("sandboxed file %s = %q, %v", written, b, err)
	}
	if st, err := os.Stat(written); err == nil && st.Mode().Perm() != 0o600 {
		t.Errorf("sandboxed file mode %v, want 0600", st.Mode().Perm())
	}
	recs, err := ReadRecords(dir)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	want := []Record{
		{Time: t0, CommandID: "cmd-1", Action: "write_file", Arguments: map[string]any{
			"path": "/etc/ipa-rescue-config/ipa-rescue-password", "written_to": written, "bytes": float64(12), "mode": "0600",
		}, Effect: "/etc/ipa-rescue-config/ipa-rescue-password would hold 12 bytes"},
		{Time: t0, CommandID: "cmd-1", Action: "run", Arguments: map[string]any{
			"command": "ip link set eth0 down", "argv": []any{"ip", "link", "set", "eth0", "down"},
		}, Effect: "interface eth0 would go down"},
		{Time: t0, Action: "power", Arguments: map[string]any{"action": "power off"}, Effect: "the machine would power off"},
	}
	if diff := cmp.Diff(want, recs); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

func TestSandboxRealWithoutDirectory(t *testing.T) {
	tests := []struct {
		name string
		sb   func(t *testing.T) *Sandbox
	}{
		{"nil sandbox", func(*testing.T) *Sandbox { return nil }},
		{"empty directory", func(t *testing.T) *Sandbox {
			s, err := New("", nil)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.sb(t)
			if s.Enabled() || s.Dir() != "" {
				t.Fatalf("Enabled %v, Dir %q: want a real sandbox", s.Enabled(), s.Dir())
			}
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "sub", "file")
			if s.Path(path) != path {
				t.Errorf("Path(%s) = %s", path, s.Path(path))
			}
			if err := s.WriteFile(ctx, path, []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			if b, err := os.ReadFile(path); err != nil || string(b) != "x" {
				t.Errorf("real write: %q, %v", b, err)
			}
			r := tooltest.New(t, tooltest.Replies{"ip link set eth9 down": {{Exit: 1, Stderr: "Cannot find device"}}})
			if _, err := s.Run(ctx, r, "eth9 down", "ip", "link", "set", "eth9", "down"); err == nil || !strings.Contains(err.Error(), "Cannot find device") {
				t.Errorf("real run error = %v, want the program's failure", err)
			}
			boom := errors.New("boom")
			if err := s.Do(ctx, "power", nil, "off", func() error { return boom }); !errors.Is(err, boom) {
				t.Errorf("Do = %v, want the real action's error", err)
			}
		})
	}
}

func TestReadRecordsWithoutFile(t *testing.T) {
	recs, err := ReadRecords(t.TempDir())
	if err != nil || recs != nil {
		t.Errorf("ReadRecords of an empty directory = %v, %v", recs, err)
	}
}

func TestSandboxPathStaysInside(t *testing.T) {
	dir := t.TempDir()
	s, err := New(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ in, want string }{
		{"/etc/x", filepath.Join(dir, "etc/x")},
		{"../../etc/x", filepath.Join(dir, "etc/x")},
		{"/a/../../b", filepath.Join(dir, "b")},
	}
	for _, tt := range tests {
		if got := s.Path(tt.in); got != tt.want {
			t.Errorf("Path(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
