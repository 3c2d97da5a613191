package generic

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// cleanSteps are IPA's generic clean steps that this manager implements,
// with IPA's default priorities and flags. erase_devices is the host's (its builtin
// manager dispatches erase_block_device per disk, which this manager
// implements).
var cleanSteps = []sdk.Step{
	{Step: stepEraseMetadata, Priority: 99, Interface: "deploy", Abortable: true},
	{Step: stepEraseExpress, Priority: 0, Interface: "deploy", Abortable: true},
	{Step: stepErasePstore, Priority: 0, Interface: "deploy", Abortable: true},
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

// Execute runs the steps erase_devices_metadata, erase_devices_express
// and erase_pstore, whether asked as a clean, deploy or service step or as
// a hardware method: like IPA, the manager dispatches by name. They take
// no arguments. It also answers the hardware methods erase_block_device
// (one argument, block_device: see eraseBlockDevice),
// get_os_install_device (see osInstallDevice), whose only argument, IPA's
// permit_refresh, is accepted and ignored: refreshing the node is the
// host's work, and collect_system_logs (no arguments), which answers
// sdk.SystemLogs (see collectSystemLogs). Other methods, erase_devices
// among them (the host's), are not supported.
func (m *Manager) Execute(ctx context.Context, req sdk.ExecuteRequest) (json.RawMessage, error) {
	var (
		run     func(context.Context, node) (json.RawMessage, error)
		allowed []string
	)
	switch req.Method {
	case stepEraseMetadata:
		run = m.eraseDevicesMetadata
	case stepEraseExpress:
		run = m.eraseDevicesExpress
	case stepErasePstore:
		run = m.erasePstore
	case methodEraseBlockDevice:
		// The host sends the kind of the erase_devices step that asks.
		run = func(ctx context.Context, n node) (json.RawMessage, error) {
			return m.eraseBlockDevice(ctx, req.Args, n)
		}
		allowed = []string{"block_device"}
	case methodInstallDevice:
		if req.Kind != "" {
			return nil, sdk.InvalidArgument("%s is a hardware method, not a %s step", req.Method, req.Kind)
		}
		run = func(ctx context.Context, n node) (json.RawMessage, error) {
			return m.osInstallDevice(ctx, req.Node, n)
		}
		allowed = []string{"permit_refresh"}
	case sdk.MethodCollectSystemLogs:
		if req.Kind != "" {
			return nil, sdk.InvalidArgument("%s is a hardware method, not a %s step", req.Method, req.Kind)
		}
		run = func(ctx context.Context, _ node) (json.RawMessage, error) { return m.collectSystemLogs(ctx) }
	default:
		return nil, sdk.NotSupported("%s is not implemented by the generic hardware manager", req.Method)
	}
	if err := checkArgs(req.Method, req.Args, allowed...); err != nil {
		return nil, err
	}
	n, err := parseNode(req.Node)
	if err != nil {
		return nil, err
	}
	sdk.ContextLogger(ctx, m.log).Info("executing", "step", req.Method, "kind", string(req.Kind))
	return run(ctx, n)
}

// checkArgs refuses arguments other than the allowed ones, as Python
// does for unexpected keyword arguments.
func checkArgs(method string, args json.RawMessage, allowed ...string) error {
	args = bytes.TrimSpace(args)
	if len(args) == 0 || string(args) == "null" {
		return nil
	}
	var kw map[string]json.RawMessage
	if err := json.Unmarshal(args, &kw); err != nil {
		return sdk.InvalidArgument("%s: arguments are not a JSON object: %v", method, err)
	}
	for k := range kw {
		if !slices.Contains(allowed, k) {
			return sdk.InvalidArgument("%s got an unexpected argument %q", method, k)
		}
	}
	return nil
}
