package tool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Runner runs an external program and returns what it wrote on standard
// output. The error is a *MissingError (errors.Is(err, ErrMissing)) when
// the program is not installed, an *ExitError when it ran and failed, and
// wraps the context's error when ctx ended first.
type Runner interface {
	Run(ctx context.Context, name string, args ...string) (stdout []byte, err error)
}

// waitDelay bounds the wait for a program's output pipes once it has been
// killed or has exited: a child it left behind must not hold Run forever.
const waitDelay = 5 * time.Second

// maxStderr is how much of a failed program's standard error an ExitError
// keeps: its last bytes, where the reason usually is.
const maxStderr = 4096

// Exec runs programs on the running machine, looked up in $PATH. The zero
// value is ready to use.
type Exec struct {
	// Log, when set, gets a debug line for every run: the command line,
	// its exit code and duration.
	Log hclog.Logger
	// Env, when not nil, is the programs' environment instead of the
	// agent's.
	Env []string
}

var _ Runner = Exec{}

// Run runs name with args and waits for it. The program is killed when
// ctx ends.
func (e Exec) Run(ctx context.Context, name string, args ...string) ([]byte, error) {
	line := CommandLine(name, args...)
	path, err := exec.LookPath(name)
	if err != nil {
		return nil, &MissingError{Name: name, Err: err}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", line, err)
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Args[0] = name
	cmd.Env = e.Env
	cmd.WaitDelay = waitDelay
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err = cmd.Run()
	if e.Log != nil {
		e.Log.Debug("ran tool", "command", line, "exit_code", cmd.ProcessState.ExitCode(), "duration", time.Since(start).String())
	}
	if err == nil {
		return stdout.Bytes(), nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return stdout.Bytes(), fmt.Errorf("%s: %w", line, ctxErr)
	}
	code := -1
	var xe *exec.ExitError
	if errors.As(err, &xe) {
		code = xe.ExitCode()
	}
	return stdout.Bytes(), &ExitError{Command: line, Code: code, Stderr: TrimStderr(stderr.Bytes()), Err: err}
}

// TrimStderr returns the text of a program's standard error as an
// ExitError keeps it: white space trimmed, and only the last 4 KiB of a
// longer text.
func TrimStderr(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) > maxStderr {
		b = append([]byte("..."), b[len(b)-maxStderr:]...)
	}
	return string(b)
}

// CommandLine renders a command as a shell would read it: arguments that
// are empty or hold characters other than letters, digits and -_./:=@,%+
// are single-quoted. Errors, logs and tooltest's recordings use it.
func CommandLine(name string, args ...string) string {
	var b strings.Builder
	b.WriteString(quote(name))
	for _, a := range args {
		b.WriteByte(' ')
		b.WriteString(quote(a))
	}
	return b.String()
}

func quote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@,%+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
