package commands

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/metalagent/metalagent/agent/image"
	sdk "github.com/metalagent/metalagent/plugin-sdk"
	"github.com/metalagent/metalagent/plugin-sdk/blockdev"
)

// BuiltinName is the name of the host's own hardware manager.
const BuiltinName = "metalagent-builtin"

// builtin is the host's in-process hardware manager, at generic level (so a
// higher plugin can replace any of its steps). It offers write_image as a
// deploy step, since a multi-gigabyte stream should not cross a process
// boundary, and the clean step erase_devices, which orchestrates the
// managers' erase_block_device per disk as IPA's generic manager does (see
// erase.go).
type builtin struct {
	d *Deps

	mu    sync.Mutex
	allow blockdev.AllowList
	// checkInUse is blockdev.Checker's CheckNotInUse; tests replace it.
	checkInUse func(dev string) error
	// devRoot is where /dev/disk/by-label is looked for ("/dev").
	devRoot string
}

// Builtin returns the host's in-process hardware manager.
func Builtin(d *Deps) sdk.HardwareManager {
	return &builtin{d: d, checkInUse: blockdev.Checker{}.CheckNotInUse, devRoot: "/dev"}
}

// EvaluateHardwareSupport keeps the operator's disk allow-list.
func (b *builtin) EvaluateHardwareSupport(_ context.Context, cfg sdk.HostConfig) (sdk.SupportLevel, error) {
	b.mu.Lock()
	b.allow = blockdev.NewAllowList(cfg.AllowedDisks)
	b.mu.Unlock()
	return sdk.SupportGeneric, nil
}

func (b *builtin) allowList() blockdev.AllowList {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.allow
}

func (b *builtin) Version(context.Context) (sdk.Version, error) {
	return sdk.Version{Name: BuiltinName, Version: "1.0"}, nil
}

func (b *builtin) Inventory(context.Context) (*sdk.Inventory, error) { return &sdk.Inventory{}, nil }

func (b *builtin) Steps(_ context.Context, req sdk.StepsRequest) ([]sdk.Step, error) {
	if req.Kind == sdk.StepKindClean {
		return []sdk.Step{eraseDevicesStep}, nil
	}
	if req.Kind != sdk.StepKindDeploy {
		return nil, nil
	}
	return []sdk.Step{{
		Step: "write_image", Priority: 0, Interface: "deploy",
		ArgsInfo: map[string]sdk.ArgInfo{
			"image_info":  {Description: "Image information as Ironic's write_image step sends it", Required: true},
			"configdrive": {Description: "Config drive as gzip+base64 or a URL", Required: false},
		},
	}}, nil
}

func (b *builtin) Execute(ctx context.Context, req sdk.ExecuteRequest) (json.RawMessage, error) {
	switch req.Method {
	case "write_image":
		return b.writeImage(ctx, req)
	case stepEraseDevices:
		return b.eraseDevices(ctx, req)
	}
	return nil, sdk.NotSupported("%s is not a method of %s", req.Method, BuiltinName)
}

func (b *builtin) writeImage(ctx context.Context, req sdk.ExecuteRequest) (json.RawMessage, error) {
	var args struct {
		ImageInfo   image.Info `json:"image_info"`
		ConfigDrive any        `json:"configdrive"`
	}
	if err := json.Unmarshal(req.Args, &args); err != nil {
		return nil, sdk.InvalidArgument("write_image arguments: %v", err)
	}
	if args.ConfigDrive != nil && args.ConfigDrive != "" {
		return nil, sdk.HardwareError("InstanceDeployFailure", "config drives are not supported by this agent version yet")
	}
	log := hclog.FromContext(ctx).With("step", "write_image")
	msg, err := b.d.prepareImage(ctx, log, args.ImageInfo, req.Node)
	if err != nil {
		return nil, err
	}
	return json.Marshal(msg)
}
