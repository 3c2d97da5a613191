package sdk

import (
	"errors"
	"fmt"
)

// ErrorKind tells the host how to treat a manager's error.
type ErrorKind int

// Error kinds. They survive the process boundary.
const (
	// KindHardware is a failure of the hardware or of the method itself:
	// the host reports it to Ironic and does not try another manager.
	KindHardware ErrorKind = iota
	// KindNotSupported means the manager does not implement the method or
	// cannot on this hardware (IPA's IncompatibleHardwareMethodError): the
	// host falls through to the next manager.
	KindNotSupported
	// KindInvalidArgument means the caller's arguments are wrong.
	KindInvalidArgument
)

// String names the kind.
func (k ErrorKind) String() string {
	switch k {
	case KindNotSupported:
		return "not supported"
	case KindInvalidArgument:
		return "invalid argument"
	default:
		return "hardware error"
	}
}

// Error is a manager's error with its kind and, optionally, the IPA error
// class Ironic should see (for example "BlockDeviceEraseError").
type Error struct {
	Kind ErrorKind
	// Type is IPA's error class name; empty lets the host choose.
	Type    string
	Message string
}

// Error returns the message.
func (e *Error) Error() string {
	if e.Message == "" {
		return e.Kind.String()
	}
	return e.Message
}

// Is reports whether target is the sentinel of e's kind, so that
// errors.Is(err, ErrNotSupported) works across wrapping.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Type == "" && t.Kind == e.Kind
}

// Sentinels to test an error's kind with errors.Is.
var (
	ErrNotSupported    = &Error{Kind: KindNotSupported}
	ErrInvalidArgument = &Error{Kind: KindInvalidArgument}
)

// NotSupported returns an error that makes the host fall through to the
// next manager.
func NotSupported(format string, a ...any) error {
	return &Error{Kind: KindNotSupported, Type: "IncompatibleHardwareMethodError", Message: fmt.Sprintf(format, a...)}
}

// InvalidArgument returns an error for arguments the method cannot accept.
func InvalidArgument(format string, a ...any) error {
	return &Error{Kind: KindInvalidArgument, Type: "InvalidCommandParamsError", Message: fmt.Sprintf(format, a...)}
}

// HardwareError returns a hardware failure with IPA's error class name
// typ (for example "BlockDeviceEraseError").
func HardwareError(typ, format string, a ...any) error {
	return &Error{Kind: KindHardware, Type: typ, Message: fmt.Sprintf(format, a...)}
}

// KindOf returns the kind of err: the kind of the first *Error in its
// chain, or KindHardware.
func KindOf(err error) ErrorKind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindHardware
}

// TypeOf returns the IPA error class of err, or "" when none was given.
func TypeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Type
	}
	return ""
}
