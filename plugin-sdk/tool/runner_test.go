package tool

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func requireSh(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("needs sh")
	}
}

func TestExecRun(t *testing.T) {
	requireSh(t)
	long := strings.Repeat("x", 2*maxStderr) + "the_reason"
	tests := []struct {
		name       string
		exec       Exec
		prog       string
		args       []string
		wantStdout string
		wantCode   int // -1: no ExitError expected
		wantStderr string
		wantMsg    string
	}{
		{"success", Exec{}, "sh", []string{"-c", "printf 'out\\n'; printf err >&2"}, "out\n", -1, "", ""},
		{"environment", Exec{Env: []string{"METALAGENT_X=42"}}, "sh", []string{"-c", "printf %s \"$METALAGENT_X\""}, "42", -1, "", ""},
		{"failure", Exec{}, "sh", []string{"-c", "printf partial; printf '  bad thing\\n\\n' >&2; exit 3"}, "partial", 3, "bad thing",
			"sh -c 'printf partial; printf '\\''  bad thing\\n\\n'\\'' >&2; exit 3': exit code 3: bad thing"},
		{"long stderr keeps the end", Exec{}, "sh", []string{"-c", "printf " + long + " >&2; exit 1"}, "", 1, "..." + long[len(long)-maxStderr:], ""},
		{"killed by a signal", Exec{}, "sh", []string{"-c", "kill -9 $$"}, "", -1, "", "signal: killed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := tt.exec.Run(context.Background(), tt.prog, tt.args...)
			if string(out) != tt.wantStdout {
				t.Errorf("stdout %q, want %q", out, tt.wantStdout)
			}
			var ee *ExitError
			isExit := errors.As(err, &ee)
			switch {
			case tt.wantCode < 0 && tt.wantMsg == "":
				if err != nil {
					t.Fatalf("error %v, want none", err)
				}
				return
			case !isExit:
				t.Fatalf("error %v (%T), want an *ExitError", err, err)
			}
			if tt.wantCode >= 0 && (ee.Code != tt.wantCode || ee.Stderr != tt.wantStderr) {
				t.Errorf("code %d, stderr of %d bytes ending %q; want %d, %d bytes ending %q", ee.Code,
					len(ee.Stderr), tail(ee.Stderr), tt.wantCode, len(tt.wantStderr), tail(tt.wantStderr))
			}
			if ee.Command != CommandLine(tt.prog, tt.args...) {
				t.Errorf("command %q", ee.Command)
			}
			if tt.wantMsg != "" && !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("message %q, want it to contain %q", err, tt.wantMsg)
			}
			if errors.Is(err, ErrMissing) {
				t.Error("a failed run reads as a missing tool")
			}
		})
	}
}

func TestExecMissing(t *testing.T) {
	_, err := Exec{}.Run(context.Background(), "metalagent-no-such-tool", "--help")
	var me *MissingError
	if !errors.Is(err, ErrMissing) || !errors.As(err, &me) || me.Name != "metalagent-no-such-tool" {
		t.Fatalf("error %v (%T), want a *MissingError for metalagent-no-such-tool", err, err)
	}
	if want := "metalagent-no-such-tool is not installed in the ramdisk"; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("message %q, want it to start with %q", err, want)
	}
}

func TestExecContext(t *testing.T) {
	requireSh(t)
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (Exec{}).Run(done, "sh", "-c", "exit 0"); !errors.Is(err, context.Canceled) {
		t.Errorf("ended context: error %v, want context.Canceled", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Exec{}.Run(ctx, "sh", "-c", "exec sleep 30")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > waitDelay {
		t.Errorf("Run returned after %v", d)
	}
}

func TestCommandLine(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"nvme", []string{"format", "/dev/nvme0n1", "-s", "2", "-f"}, "nvme format /dev/nvme0n1 -s 2 -f"},
		{"hdparm", []string{"--user-master", "u", "--security-unlock", "", "/dev/sda"}, "hdparm --user-master u --security-unlock '' /dev/sda"},
		{"sh", []string{"-c", "echo it's $HOME"}, `sh -c 'echo it'\''s $HOME'`},
		{"qemu-img", []string{"convert", "-O", "raw", "a b.qcow2", "size=1G,x=y"}, "qemu-img convert -O raw 'a b.qcow2' size=1G,x=y"},
	}
	for _, tt := range tests {
		if got := CommandLine(tt.name, tt.args...); got != tt.want {
			t.Errorf("CommandLine(%q, %q) = %s, want %s", tt.name, tt.args, got, tt.want)
		}
	}
}

func TestErrorMessages(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&MissingError{Name: "hdparm"}, "hdparm is not installed in the ramdisk"},
		{&ExitError{Command: "nvme format /dev/nvme0n1 -s 2 -f", Code: 1, Stderr: "NVMe status: INVALID_FORMAT"}, "nvme format /dev/nvme0n1 -s 2 -f: exit code 1: NVMe status: INVALID_FORMAT"},
		{&ExitError{Command: "hdparm -I /dev/sda", Code: 5}, "hdparm -I /dev/sda: exit code 5"},
		{&ExitError{Command: "hdparm -I /dev/sda", Code: -1, Err: errors.New("signal: killed")}, "hdparm -I /dev/sda: signal: killed"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("%#v: %q, want %q", tt.err, got, tt.want)
		}
	}
}

func tail(s string) string { return s[max(0, len(s)-40):] }
