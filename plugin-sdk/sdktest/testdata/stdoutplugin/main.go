// Command stdoutplugin prints to stdout before sdk.Serve, which breaks
// go-plugin's handshake; the kit must say so.
package main

import (
	"context"
	"encoding/json"
	"fmt"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

type manager struct{}

func (manager) EvaluateHardwareSupport(context.Context, sdk.HostConfig) (sdk.SupportLevel, error) {
	return sdk.SupportServiceProvider, nil
}

func (manager) Version(context.Context) (sdk.Version, error) {
	return sdk.Version{Name: "chatty", Version: "1.0"}, nil
}

func (manager) Inventory(context.Context) (*sdk.Inventory, error) { return &sdk.Inventory{}, nil }

func (manager) Steps(context.Context, sdk.StepsRequest) ([]sdk.Step, error) { return nil, nil }

func (manager) Execute(_ context.Context, req sdk.ExecuteRequest) (json.RawMessage, error) {
	return nil, sdk.NotSupported("%s is not implemented", req.Method)
}

func main() {
	fmt.Println("chatty plugin starting")
	sdk.Serve(manager{})
}
