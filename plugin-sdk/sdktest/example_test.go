package sdktest_test

import (
	"context"
	"encoding/json"
	"fmt"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
	"github.com/metalagent/metalagent/plugin-sdk/sdktest"
)

// acme is a vendor's manager with two mistakes: an upper-case MAC address
// and a step listed twice.
type acme struct{}

func (acme) EvaluateHardwareSupport(context.Context, sdk.HostConfig) (sdk.SupportLevel, error) {
	return sdk.SupportServiceProvider, nil
}

func (acme) Version(context.Context) (sdk.Version, error) {
	return sdk.Version{Name: "acme_hardware_manager", Version: "1.0"}, nil
}

func (acme) Inventory(context.Context) (*sdk.Inventory, error) {
	return &sdk.Inventory{Interfaces: []sdk.NetworkInterface{{Name: "eth0", MACAddress: "52:54:00:AB:CD:EF"}}}, nil
}

func (acme) Steps(_ context.Context, req sdk.StepsRequest) ([]sdk.Step, error) {
	if req.Kind != sdk.StepKindClean {
		return nil, nil
	}
	st := sdk.Step{Step: "reset_bmc", Interface: "management"}
	return []sdk.Step{st, st}, nil
}

func (acme) Execute(_ context.Context, req sdk.ExecuteRequest) (json.RawMessage, error) {
	return nil, sdk.NotSupported("%s is not implemented", req.Method)
}

// A vendor's test calls sdktest.Run(t, acme{}, sdktest.Options{}) (or
// sdktest.RunBinary with the plugin executable) and gets one subtest per
// check. Check returns the same findings without a *testing.T.
func Example() {
	for _, p := range sdktest.Check(context.Background(), acme{}, sdktest.Options{}) {
		fmt.Println(p)
	}
	// Output:
	// inventory: interfaces[0].mac_address: "52:54:00:AB:CD:EF" is not a lowercase MAC address like aa:bb:cc:dd:ee:ff: Ironic matches ports by it [rule mac-address]
	// clean-steps: clean step 1 ("reset_bmc") has the same name as clean step 0: a manager lists each step once per kind, since Ironic and the host key steps by name [rule step-unique]
}
