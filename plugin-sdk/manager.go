package sdk

import (
	"context"
	"encoding/json"
)

// SupportLevel is how well a hardware manager supports the machine it runs
// on. The host uses the managers with a level above SupportNone, highest
// first.
type SupportLevel int

// IPA's hardware support levels. Vendors use SupportServiceProvider or
// higher to take precedence over the first-party managers.
const (
	SupportNone            SupportLevel = 0
	SupportGeneric         SupportLevel = 1
	SupportMainline        SupportLevel = 2
	SupportServiceProvider SupportLevel = 3
)

// StepKind names a family of steps.
type StepKind string

// The step families Ironic asks for.
const (
	StepKindClean   StepKind = "clean"
	StepKindDeploy  StepKind = "deploy"
	StepKindService StepKind = "service"
)

// HostConfig is what the host tells a plugin about the machine and the
// operator's settings when it starts.
type HostConfig struct {
	// AllowedDisks limits the block devices the plugin may report and
	// touch. Empty means no limit. With a limit, loop devices count as
	// disks.
	AllowedDisks []string
	// KernelParams are the key=value kernel parameters the agent booted
	// with (IPA's ipa-* parameters among them).
	KernelParams map[string]string
	// BootIF is the raw BOOTIF kernel parameter, if any.
	BootIF string
	// Debug asks for debug logging.
	Debug bool
}

// Version identifies a hardware manager. Ironic records the versions of all
// managers when it lists steps and sends them back with every step; a
// mismatch makes the host answer VersionMismatch.
type Version struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// StepsRequest asks a manager for its steps of one kind.
type StepsRequest struct {
	Kind StepKind
	// Node and Ports are the node and its ports as Ironic sent them (JSON).
	Node  json.RawMessage
	Ports json.RawMessage
}

// ExecuteRequest asks a manager to run a step or a hardware method.
type ExecuteRequest struct {
	// Method is the step or hardware-method name.
	Method string
	// Kind is the step family, or empty for a hardware method.
	Kind StepKind
	// Args is a JSON object of keyword arguments; may be empty.
	Args json.RawMessage
	// Node and Ports are the node and its ports as Ironic sent them (JSON).
	Node  json.RawMessage
	Ports json.RawMessage
	// LogFields are the host's log fields for this call (node,
	// command_id). Serve also puts them in the call's context: log with
	// ContextLogger(ctx, logger).
	LogFields map[string]string
}

// HardwareManager is the contract between the metalagent host and a
// hardware-manager plugin. Every method gets a context whose deadline the
// host sets; long work must honour it.
type HardwareManager interface {
	// EvaluateHardwareSupport is called once, right after the plugin starts.
	// The manager does its initialisation here and reports how well it
	// supports this machine; SupportNone removes it from use.
	EvaluateHardwareSupport(ctx context.Context, cfg HostConfig) (SupportLevel, error)
	// Version reports the manager's name and version.
	Version(ctx context.Context) (Version, error)
	// Inventory returns the parts of IPA's inventory the manager knows;
	// components it leaves nil are taken from lower managers.
	Inventory(ctx context.Context) (*Inventory, error)
	// Steps lists the manager's steps of one kind.
	Steps(ctx context.Context, req StepsRequest) ([]Step, error)
	// Execute runs a step or a hardware method and returns its JSON result
	// (nil for none). A manager that does not implement the method, or
	// cannot on this hardware, returns an error matching ErrNotSupported.
	Execute(ctx context.Context, req ExecuteRequest) (json.RawMessage, error)
}
