package sdk

import (
	"context"
	"encoding/json"
)

// UnimplementedHardwareManager answers every call as a manager that knows
// nothing: embed it and override what your manager does. It reports
// SupportNone, so a manager must override EvaluateHardwareSupport (and
// Version) to be used.
type UnimplementedHardwareManager struct{}

// EvaluateHardwareSupport reports SupportNone.
func (UnimplementedHardwareManager) EvaluateHardwareSupport(context.Context, HostConfig) (SupportLevel, error) {
	return SupportNone, nil
}

// Version reports an unnamed manager.
func (UnimplementedHardwareManager) Version(context.Context) (Version, error) {
	return Version{Name: "unnamed_hardware_manager", Version: "0"}, nil
}

// Inventory reports nothing.
func (UnimplementedHardwareManager) Inventory(context.Context) (*Inventory, error) {
	return &Inventory{}, nil
}

// Steps lists no steps.
func (UnimplementedHardwareManager) Steps(context.Context, StepsRequest) ([]Step, error) {
	return nil, nil
}

// Execute answers NotSupported, so the host asks the next manager.
func (UnimplementedHardwareManager) Execute(_ context.Context, req ExecuteRequest) (json.RawMessage, error) {
	return nil, NotSupported("%s is not implemented by this manager", req.Method)
}
