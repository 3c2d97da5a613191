package generic

import (
	"bytes"
	"context"
	"encoding/json"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// cleanSteps are IPA's generic clean steps that this manager implements,
// with IPA's default priorities.
var cleanSteps = []sdk.Step{
	{Step: stepErase, Priority: 10, Interface: "deploy", Abortable: true},
	{Step: stepEraseMetadata, Priority: 99, Interface: "deploy", Abortable: true},
}

// deploySteps are IPA's generic deploy steps that this manager implements.
var deploySteps = []sdk.Step{
	{Step: stepEraseMetadata, Priority: 0, Interface: "deploy"},
}

// Steps lists the manager's clean and deploy steps; it has no service
// steps.
func (m *Manager) Steps(ctx context.Context, req sdk.StepsRequest) ([]sdk.Step, error) {
	switch req.Kind {
	case sdk.StepKindClean:
		return clone(cleanSteps), nil
	case sdk.StepKindDeploy:
		return clone(deploySteps), nil
	case sdk.StepKindService:
		return []sdk.Step{}, nil
	}
	return nil, sdk.InvalidArgument("unknown step kind %q", req.Kind)
}

func clone(steps []sdk.Step) []sdk.Step { return append([]sdk.Step(nil), steps...) }

// Execute runs erase_devices_metadata or erase_devices, whether asked as a
// clean, deploy or service step or as a hardware method: like IPA, the
// manager dispatches by name. Neither takes arguments. Other methods are
// not supported.
func (m *Manager) Execute(ctx context.Context, req sdk.ExecuteRequest) (json.RawMessage, error) {
	var run func(context.Context, node) (json.RawMessage, error)
	switch req.Method {
	case stepEraseMetadata:
		run = m.eraseDevicesMetadata
	case stepErase:
		run = m.eraseDevices
	default:
		return nil, sdk.NotSupported("%s is not implemented by the generic hardware manager", req.Method)
	}
	if err := noArgs(req.Method, req.Args); err != nil {
		return nil, err
	}
	n, err := parseNode(req.Node)
	if err != nil {
		return nil, err
	}
	m.log.Info("executing", "step", req.Method, "kind", string(req.Kind), "node", n.UUID)
	return run(ctx, n)
}

// noArgs refuses arguments for a method that takes none, as Python does
// for unexpected keyword arguments.
func noArgs(method string, args json.RawMessage) error {
	args = bytes.TrimSpace(args)
	if len(args) == 0 || string(args) == "null" {
		return nil
	}
	var kw map[string]json.RawMessage
	if err := json.Unmarshal(args, &kw); err != nil {
		return sdk.InvalidArgument("%s: arguments are not a JSON object: %v", method, err)
	}
	for k := range kw {
		return sdk.InvalidArgument("%s takes no arguments, got %q", method, k)
	}
	return nil
}
