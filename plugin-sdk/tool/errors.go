package tool

import (
	"errors"
	"fmt"
)

// ErrMissing is what errors.Is finds in the error of a program that is not
// installed.
var ErrMissing = errors.New("tool not installed")

// MissingError says that a program is not installed on the machine, that
// is, not in the ramdisk the agent runs from.
type MissingError struct {
	// Name is the program, as given to Run.
	Name string
	// Err is the lookup's error, if any.
	Err error
}

// Error names the program.
func (e *MissingError) Error() string {
	msg := fmt.Sprintf("%s is not installed in the ramdisk", e.Name)
	if e.Err != nil {
		msg += fmt.Sprintf(" (%v)", e.Err)
	}
	return msg
}

// Is makes errors.Is(err, ErrMissing) true.
func (e *MissingError) Is(target error) bool { return target == ErrMissing }

// Unwrap returns the lookup's error.
func (e *MissingError) Unwrap() error { return e.Err }

// ExitError is a program that ran and failed.
type ExitError struct {
	// Command is the command line, as CommandLine renders it.
	Command string
	// Code is the exit code, -1 when the program was killed by a signal
	// or could not be started.
	Code int
	// Stderr is the program's standard error, trimmed (see TrimStderr).
	Stderr string
	// Err is the underlying error, usually an *exec.ExitError.
	Err error
}

// Error gives the command line, the exit code and the standard error.
func (e *ExitError) Error() string {
	msg := fmt.Sprintf("%s: exit code %d", e.Command, e.Code)
	if e.Code < 0 && e.Err != nil {
		msg = fmt.Sprintf("%s: %v", e.Command, e.Err)
	}
	if e.Stderr != "" {
		msg += ": " + e.Stderr
	}
	return msg
}

// Unwrap returns the underlying error.
func (e *ExitError) Unwrap() error { return e.Err }
