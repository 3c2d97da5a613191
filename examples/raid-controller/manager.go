package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// Name and Version are what the manager reports; Ironic records them with
// the steps.
const (
	Name    = "raid_controller_hardware_manager"
	Version = "1.0"
)

// paramState is the kernel parameter naming the state file.
const (
	paramState   = "raid-controller-state"
	defaultState = "/var/lib/raid-controller/state.json"
)

// The logical disks' fields in the inventory.
const (
	diskModel  = "Simulated RAID"
	diskVendor = "Simulated"
)

// The steps, as IPA's generic manager names them.
const (
	stepDelete = "delete_configuration"
	stepCreate = "create_configuration"
	stepApply  = "apply_configuration"
)

var createArgs = map[string]sdk.ArgInfo{
	"target_raid_config": {
		Description: "The RAID configuration to create ({\"logical_disks\": [...]}, Ironic's schema). " +
			"Default: the node's target_raid_config.",
		Required: false,
	},
}

// applyArgs are IPA's RAID_APPLY_CONFIGURATION_ARGSINFO.
var applyArgs = map[string]sdk.ArgInfo{
	"raid_config": {
		Description: "The RAID configuration to apply.",
		Required:    true,
	},
	"delete_existing": {
		Description: "Setting this to 'True' indicates to delete existing RAID configuration prior to creating " +
			"the new configuration. Default value is 'True'.",
		Required: false,
	},
}

// logger is the part of sdk.Logger's logger the manager uses.
type logger interface {
	Info(msg string, args ...interface{})
	Warn(msg string, args ...interface{})
	Error(msg string, args ...interface{})
}

// manager is the simulated RAID controller's hardware manager.
type manager struct {
	log logger

	// mu serialises every change of the state file.
	mu   sync.Mutex
	path string
}

var _ sdk.HardwareManager = (*manager)(nil)

func newManager() *manager { return &manager{log: sdk.Logger("raid-controller")} }

// EvaluateHardwareSupport finds the controller: its state file. Without
// one there is no controller and the manager reports SupportNone (the host
// stops the plugin); with one, SupportMainline.
func (m *manager) EvaluateHardwareSupport(ctx context.Context, hc sdk.HostConfig) (sdk.SupportLevel, error) {
	if err := ctx.Err(); err != nil {
		return sdk.SupportNone, err
	}
	path := defaultState
	if p := hc.KernelParams[paramState]; p != "" {
		path = p
	}
	m.mu.Lock()
	m.path = path
	m.mu.Unlock()
	st, err := loadState(path)
	if errors.Is(err, errNoController) {
		m.log.Info("no RAID controller on this machine", "state", path)
		return sdk.SupportNone, nil
	}
	if err != nil {
		return sdk.SupportNone, err
	}
	m.log.Info("RAID controller found", "controller", st.Controller, "state", path,
		"physical_disks", len(st.PhysicalDisks), "logical_disks", len(st.LogicalDisks))
	return sdk.SupportMainline, nil
}

// Version reports the manager's name and version.
func (m *manager) Version(context.Context) (sdk.Version, error) {
	return sdk.Version{Name: Name, Version: Version}, nil
}

// Inventory reports the controller's logical disks as disks. A state file
// that cannot be read is logged and nothing is reported, so the other
// managers' inventory still reaches Ironic.
func (m *manager) Inventory(context.Context) (*sdk.Inventory, error) {
	m.mu.Lock()
	st, err := loadState(m.path)
	m.mu.Unlock()
	if err != nil {
		m.log.Warn("controller state unreadable; no logical disks reported", "error", err)
		return &sdk.Inventory{}, nil
	}
	inv := &sdk.Inventory{}
	for _, ld := range st.LogicalDisks {
		inv.Disks = append(inv.Disks, sdk.BlockDevice{
			Name:       ld.Name,
			Model:      sdk.Ptr(diskModel),
			Size:       int64(ld.SizeGB) << 30,
			Rotational: false,
			Vendor:     sdk.Ptr(diskVendor),
			Serial:     sdk.Ptr(serial(st.Controller, ld)),
		})
	}
	return inv, nil
}

// serial is a logical disk's stable serial number.
func serial(controller string, ld logicalDisk) string {
	r := strings.NewReplacer(" ", "-", "/", "-")
	return r.Replace(controller) + "-" + strings.TrimPrefix(ld.Name, "/dev/")
}

// Steps lists IPA's RAID steps: delete_configuration and
// create_configuration as clean and deploy steps, apply_configuration as a
// deploy step; all in interface raid, priority 0 (run only on request).
func (m *manager) Steps(_ context.Context, req sdk.StepsRequest) ([]sdk.Step, error) {
	switch req.Kind {
	case sdk.StepKindClean:
		return []sdk.Step{
			{Step: stepDelete, Priority: 0, Interface: "raid", Abortable: true},
			{Step: stepCreate, Priority: 0, Interface: "raid", Abortable: true, ArgsInfo: createArgs},
		}, nil
	case sdk.StepKindDeploy:
		return []sdk.Step{
			{Step: stepDelete, Priority: 0, Interface: "raid"},
			{Step: stepCreate, Priority: 0, Interface: "raid", ArgsInfo: createArgs},
			{Step: stepApply, Priority: 0, Interface: "raid", ArgsInfo: applyArgs},
		}, nil
	case sdk.StepKindService:
		return []sdk.Step{}, nil
	}
	return nil, sdk.InvalidArgument("unknown step kind %q", req.Kind)
}

// Execute runs the RAID steps by name, whatever the kind asked, as IPA
// dispatches. Every other method is NotSupported.
func (m *manager) Execute(ctx context.Context, req sdk.ExecuteRequest) (json.RawMessage, error) {
	var run func(ctx context.Context, args map[string]json.RawMessage, node json.RawMessage) (any, error)
	var allowed []string
	switch req.Method {
	case stepDelete:
		run = m.deleteConfiguration
	case stepCreate:
		run, allowed = m.createConfiguration, []string{"target_raid_config"}
	case stepApply:
		run, allowed = m.applyConfiguration, []string{"raid_config", "delete_existing"}
	default:
		return nil, sdk.NotSupported("%s is not implemented by %s", req.Method, Name)
	}
	args, err := parseArgs(req.Method, req.Args, allowed)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.log.Info("executing", "step", req.Method, "kind", string(req.Kind))
	res, err := run(ctx, args, req.Node)
	if err != nil {
		m.log.Error("step failed", "step", req.Method, "error", err)
		return nil, err
	}
	return json.Marshal(res)
}

// parseArgs decodes the keyword arguments and refuses unexpected ones, as
// Python does.
func parseArgs(method string, raw json.RawMessage, allowed []string) (map[string]json.RawMessage, error) {
	args := map[string]json.RawMessage{}
	if r := bytes.TrimSpace(raw); len(r) > 0 && string(r) != "null" {
		if err := json.Unmarshal(r, &args); err != nil {
			return nil, sdk.InvalidArgument("%s: arguments are not a JSON object: %v", method, err)
		}
	}
	for k := range args {
		if !slices.Contains(allowed, k) {
			return nil, sdk.InvalidArgument("%s got an unexpected argument %q", method, k)
		}
	}
	return args, nil
}

// deleteConfiguration removes every logical disk of the controller and
// answers null, as IPA's.
func (m *manager) deleteConfiguration(_ context.Context, _ map[string]json.RawMessage, _ json.RawMessage) (any, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, err := m.load()
	if err != nil {
		return nil, err
	}
	for _, ld := range st.LogicalDisks {
		m.log.Info("deleting logical disk", "device", ld.Name, "volume_name", ld.VolumeName, "raid_level", ld.RAIDLevel)
	}
	st.LogicalDisks = nil
	return nil, m.save(st)
}

// createConfiguration creates the logical disks of args'
// target_raid_config, else of the node's target_raid_config, and answers
// {"logical_disks": [the disks created]}. Without a configuration it does
// nothing and answers {}, as IPA does.
func (m *manager) createConfiguration(_ context.Context, args map[string]json.RawMessage, node json.RawMessage) (any, error) {
	raw, ok := args["target_raid_config"]
	if !ok || string(bytes.TrimSpace(raw)) == "null" {
		var n struct {
			TargetRAIDConfig json.RawMessage `json:"target_raid_config"`
		}
		if s := bytes.TrimSpace(node); len(s) > 0 && string(s) != "null" {
			if err := json.Unmarshal(s, &n); err != nil {
				return nil, sdk.InvalidArgument("decode node: %v", err)
			}
		}
		raw = n.TargetRAIDConfig
	}
	targets, err := parseRAIDConfig(raw)
	if err != nil {
		return nil, err
	}
	if len(targets) == 0 {
		m.log.Info("no target RAID configuration; nothing to create")
		return map[string]any{}, nil
	}
	return m.create(targets, false)
}

// applyConfiguration is IPA's apply_configuration: it validates raid_config
// against the controller as it will be, deletes the existing logical
// disks when delete_existing (default true), and creates the new ones;
// invalid configurations change nothing.
func (m *manager) applyConfiguration(_ context.Context, args map[string]json.RawMessage, _ json.RawMessage) (any, error) {
	raw, ok := args["raid_config"]
	if !ok {
		return nil, sdk.InvalidArgument("%s needs the argument raid_config", stepApply)
	}
	deleteExisting := true
	if v, ok := args["delete_existing"]; ok && string(v) != "null" {
		var b any
		if err := json.Unmarshal(v, &b); err != nil {
			return nil, sdk.InvalidArgument("delete_existing: %v", err)
		}
		switch b := b.(type) {
		case bool:
			deleteExisting = b
		case string:
			switch strings.ToLower(b) {
			case "1", "t", "true", "on", "y", "yes":
				deleteExisting = true
			case "0", "f", "false", "off", "n", "no":
				deleteExisting = false
			default:
				return nil, sdk.InvalidArgument("delete_existing: %q is not a boolean", b)
			}
		default:
			return nil, sdk.InvalidArgument("delete_existing: %v is not a boolean", b)
		}
	}
	targets, err := parseRAIDConfig(raw)
	if err != nil {
		return nil, err
	}
	if len(targets) == 0 {
		return nil, sdk.InvalidArgument("%s: raid_config has no logical disks", stepApply)
	}
	return m.create(targets, deleteExisting)
}

// create plans the targets on the controller (emptied first when
// deleteExisting) and saves the result only when every target fits.
func (m *manager) create(targets []target, deleteExisting bool) (any, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, err := m.load()
	if err != nil {
		return nil, err
	}
	mine, err := ours(targets, st.Controller)
	if err != nil {
		return nil, err
	}
	if !mine {
		return nil, sdk.NotSupported("the RAID configuration names other controllers than %q", st.Controller)
	}
	next := st.clone()
	if deleteExisting {
		next.LogicalDisks = nil
	}
	created, err := plan(next, targets)
	if err != nil {
		return nil, err
	}
	if err := m.save(next); err != nil {
		return nil, err
	}
	out := make([]map[string]any, 0, len(created))
	for _, ld := range created {
		m.log.Info("created logical disk", "device", ld.Name, "volume_name", ld.VolumeName, "raid_level", ld.RAIDLevel,
			"size_gb", ld.SizeGB, "physical_disks", ld.PhysicalDisks)
		d := map[string]any{
			"size_gb":          ld.SizeGB,
			"raid_level":       ld.RAIDLevel,
			"volume_name":      ld.VolumeName,
			"controller":       st.Controller,
			"physical_disks":   ld.PhysicalDisks,
			"root_device_hint": map[string]string{"name": ld.Name},
		}
		if ld.IsRootVolume {
			d["is_root_volume"] = true
		}
		out = append(out, d)
	}
	return map[string]any{"logical_disks": out}, nil
}

// load reads the state file; the caller holds mu.
func (m *manager) load() (*state, error) {
	st, err := loadState(m.path)
	if err != nil {
		return nil, sdk.HardwareError("RAIDError", "%v", err)
	}
	return st, nil
}

// save writes the state file; the caller holds mu.
func (m *manager) save(st *state) error {
	if err := st.save(m.path); err != nil {
		return sdk.HardwareError("RAIDError", "%v", err)
	}
	return nil
}
