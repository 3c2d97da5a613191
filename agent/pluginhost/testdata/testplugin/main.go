// Command testplugin is a hardware-manager plugin for the plugin host's
// tests. Its behaviour comes from its own file name, so one binary copied
// under several names plays several plugins: "<name>-<level>", e.g.
// "vendor-3". It implements the step "vendor_step" only when its level is
// at least 3 and answers "shared_step" with its name unless the node says
// "refuse-<name>" (not supported) or "fail-<name>" (hardware error).
//
// Any instance also answers these methods:
//
//	crash      exits with status 3 (a crash)
//	panic_step panics inside the step (the gRPC handler does not recover:
//	           the process dies)
//	hang_step  never answers, ignoring its context
//	pid        answers its process id
//
// Names select start-up behaviours:
//
//	stdout-N    prints to stdout before Serve (breaks the handshake)
//	exitstart-N exits at once
//	v2-N        serves protocol version 2 only
//
// When the kernel parameter "testplugin-record" names a file, every
// EvaluateHardwareSupport appends "<name> <HostConfig as JSON>" to it.
//
// It ignores SIGPIPE, so that a write to the stderr of a dead host does not
// end it: only the parent-death signal the host asks for does.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/hashicorp/go-plugin"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

type manager struct {
	name  string
	level int
}

func (m *manager) EvaluateHardwareSupport(_ context.Context, cfg sdk.HostConfig) (sdk.SupportLevel, error) {
	if rec := cfg.KernelParams["testplugin-record"]; rec != "" {
		b, _ := json.Marshal(cfg)
		f, err := os.OpenFile(rec, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return sdk.SupportNone, err
		}
		fmt.Fprintf(f, "%s %s\n", m.name, b)
		f.Close()
	}
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

func (m *manager) Execute(ctx context.Context, req sdk.ExecuteRequest) (json.RawMessage, error) {
	if req.Method == "log_fields" {
		return json.Marshal(sdk.LogFields(ctx))
	}
	switch {
	case req.Method == "crash":
		os.Exit(3)
	case req.Method == "panic_step":
		panic("testplugin: panic in a step")
	case req.Method == "hang_step":
		select {}
	case req.Method == "pid":
		return json.Marshal(os.Getpid())
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
	signal.Ignore(syscall.SIGPIPE)
	base := filepath.Base(os.Args[0])
	name, lvl, _ := strings.Cut(base, "-")
	level, _ := strconv.Atoi(lvl)
	m := &manager{name: name, level: level}
	switch name {
	case "stdout":
		fmt.Println("testplugin: hello on stdout before the handshake")
	case "exitstart":
		os.Exit(1)
	case "v2":
		hs := sdk.Handshake
		hs.ProtocolVersion = 2
		plugin.Serve(&plugin.ServeConfig{
			HandshakeConfig:  hs,
			VersionedPlugins: map[int]plugin.PluginSet{2: {sdk.PluginName: &sdk.GRPCPlugin{Impl: m}}},
			GRPCServer:       plugin.DefaultGRPCServer,
		})
		return
	}
	sdk.Serve(m)
}
