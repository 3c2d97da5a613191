// Command goodplugin is a small conforming plugin the kit's tests launch.
package main

import (
	"context"
	"encoding/json"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

type manager struct{}

func (manager) EvaluateHardwareSupport(context.Context, sdk.HostConfig) (sdk.SupportLevel, error) {
	return sdk.SupportServiceProvider, nil
}

func (manager) Version(context.Context) (sdk.Version, error) {
	return sdk.Version{Name: "good_hardware_manager", Version: "1.0"}, nil
}

func (manager) Inventory(context.Context) (*sdk.Inventory, error) {
	return &sdk.Inventory{
		Interfaces: []sdk.NetworkInterface{{Name: "eth0", MACAddress: "52:54:00:12:34:56",
			Vendor: sdk.Ptr("0x1af4"), LLDP: []sdk.LLDPTLV{{Type: 1, Value: "04525400123456"}}}},
		BMCAddress: sdk.Ptr("192.0.2.1"),
	}, nil
}

func (manager) Steps(_ context.Context, req sdk.StepsRequest) ([]sdk.Step, error) {
	if req.Kind != sdk.StepKindClean {
		return nil, nil
	}
	return []sdk.Step{{Step: "reset_bmc", Interface: "management", Priority: 0,
		ArgsInfo: map[string]sdk.ArgInfo{"cold": {Description: "power-cycle the BMC"}}}}, nil
}

func (manager) Execute(_ context.Context, req sdk.ExecuteRequest) (json.RawMessage, error) {
	if req.Method == "bmc_health" && req.Kind == "" {
		return json.RawMessage(`{"healthy": true}`), nil
	}
	return nil, sdk.NotSupported("%s is not implemented", req.Method)
}

func main() { sdk.Serve(manager{}) }
