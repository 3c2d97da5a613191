// Command testplugin is a hardware-manager plugin for the plugin host's
// tests. Its behaviour comes from its own file name, so one binary copied
// under several names plays several plugins: "<name>-<level>", e.g.
// "vendor-3". It implements the step "vendor_step" only when its level is
// at least 3, answers "shared_step" with its name unless the node says
// "refuse", and crashes on "crash".
package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

type manager struct {
	name  string
	level int
}

func (m *manager) EvaluateHardwareSupport(context.Context, sdk.HostConfig) (sdk.SupportLevel, error) {
	return sdk.SupportLevel(m.level), nil
}

func (m *manager) Version(context.Context) (sdk.Version, error) {
	return sdk.Version{Name: m.name + "_manager", Version: "1." + strconv.Itoa(m.level)}, nil
}

func (m *manager) Inventory(context.Context) (*sdk.Inventory, error) {
	return &sdk.Inventory{
		Hostname: sdk.Ptr(m.name),
		Disks:    []sdk.BlockDevice{{Name: "/dev/sda", Model: sdk.Ptr(m.name), Size: int64(m.level)}},
	}, nil
}

func (m *manager) Steps(context.Context, sdk.StepsRequest) ([]sdk.Step, error) {
	steps := []sdk.Step{{Step: "shared_step", Priority: 10 * m.level, Interface: "deploy"}}
	if m.level >= 3 {
		steps = append(steps, sdk.Step{Step: "vendor_step", Priority: 5, Interface: "raid"})
	}
	return steps, nil
}

func (m *manager) Execute(_ context.Context, req sdk.ExecuteRequest) (json.RawMessage, error) {
	switch {
	case req.Method == "crash":
		os.Exit(3)
	case req.Method == "vendor_step" && m.level >= 3:
		return json.Marshal("done by " + m.name)
	case req.Method == "shared_step":
		if strings.Contains(string(req.Node), "refuse-"+m.name) {
			return nil, sdk.NotSupported("%s refuses", m.name)
		}
		if strings.Contains(string(req.Node), "fail-"+m.name) {
			return nil, sdk.HardwareError("BlockDeviceError", "%s failed", m.name)
		}
		return json.Marshal(m.name)
	}
	return nil, sdk.NotSupported("%s: no method %s", m.name, req.Method)
}

func main() {
	base := filepath.Base(os.Args[0])
	name, lvl, _ := strings.Cut(base, "-")
	level, _ := strconv.Atoi(lvl)
	sdk.Serve(&manager{name: name, level: level})
}
