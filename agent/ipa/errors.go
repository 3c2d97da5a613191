// Package ipa holds ironic-python-agent's wire types that the host's
// packages share: the serialised error of a failed command and the HTTP
// fault body.
package ipa

import (
	"errors"
	"fmt"
	"net/http"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// Error is an agent error as IPA serialises it in a failed command's
// command_error: {"type", "code", "message", "details"}.
type Error struct {
	// Type is IPA's error class, e.g. "ImageChecksumError".
	Type string `json:"type"`
	// Code is the HTTP-like status code of the class (500, 400, 404, 409).
	Code int `json:"code"`
	// Message is the class's short message, e.g. "Error verifying image checksum".
	Message string `json:"message"`
	// Details is the specific cause.
	Details string `json:"details"`
	// Err is the underlying error, if any; it is not serialised.
	Err error `json:"-"`
}

// Error returns "message: details", as IPA's faultstring does.
func (e *Error) Error() string {
	if e.Details == "" {
		return e.Message
	}
	return e.Message + ": " + e.Details
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// messages are the short messages of IPA's error classes.
var messages = map[string]struct {
	code int
	msg  string
}{
	"CommandExecutionError":           {500, "Command execution failed"},
	"InvalidCommandError":             {400, "Invalid command"},
	"InvalidCommandParamsError":       {400, "Invalid command parameters"},
	"RequestedObjectNotFoundError":    {404, "Requested object not found"},
	"ImageDownloadError":              {500, "Error downloading image"},
	"ImageChecksumError":              {500, "Error verifying image checksum"},
	"ImageWriteError":                 {500, "Error writing image to device"},
	"InvalidImage":                    {500, "The provided image is not valid for use"},
	"CleaningError":                   {500, "Clean step failed"},
	"DeploymentError":                 {500, "Deploy step failed"},
	"ServicingError":                  {500, "Service step failed"},
	"VersionMismatch":                 {409, "Hardware managers version mismatch, reload agent with correct version"},
	"BlockDeviceEraseError":           {500, "Error erasing block device"},
	"BlockDeviceError":                {500, "Block device caused unknown error"},
	"ProtectedDeviceError":            {500, "Protected device located, cleaning aborted"},
	"DeviceNotFound":                  {404, "Error finding devices"},
	"HardwareManagerMethodNotFound":   {500, "No HardwareManager found to handle method"},
	"IncompatibleHardwareMethodError": {500, "HardwareManager method is not compatible with hardware"},
	"HardwareManagerNotFound":         {500, "No valid HardwareManager found"},
	"SystemRebootError":               {500, "Error rebooting system"},
	"InstanceDeployFailure":           {500, "Failed to deploy instance"},
	"AgentIsBusy":                     {409, "Agent is busy"},
	"PluginError":                     {500, "Hardware-manager plugin failed"},
}

// New returns an error of IPA class typ with the given details.
func New(typ, format string, a ...any) *Error {
	m, ok := messages[typ]
	if !ok {
		m.code, m.msg = http.StatusInternalServerError, typ
	}
	return &Error{Type: typ, Code: m.code, Message: m.msg, Details: fmt.Sprintf(format, a...)}
}

// Wrap returns an error of IPA class typ whose details are err's text.
func Wrap(typ string, err error) *Error {
	e := New(typ, "%s", err.Error())
	e.Err = err
	return e
}

// From turns any error into an IPA error: an *Error in err's chain is kept,
// a plugin error keeps its IPA class, anything else becomes class fallback.
func From(err error, fallback string) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if typ := sdk.TypeOf(err); typ != "" {
		w := Wrap(typ, err)
		if sdk.KindOf(err) == sdk.KindInvalidArgument {
			w.Code = http.StatusBadRequest
		}
		return w
	}
	return Wrap(fallback, err)
}

// Fault is the body of every non-2xx response of the agent's API.
type Fault struct {
	FaultCode   string `json:"faultcode"`
	FaultString string `json:"faultstring"`
}

// NewFault returns the fault body for an HTTP status and message:
// faultcode "Server" for 5xx, "Client" otherwise.
func NewFault(status int, msg string) Fault {
	code := "Client"
	if status >= 500 {
		code = "Server"
	}
	return Fault{FaultCode: code, FaultString: msg}
}
