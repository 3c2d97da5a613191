package commands

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/metalagent/metalagent/agent/config"
	"github.com/metalagent/metalagent/agent/metrics"
	"github.com/metalagent/metalagent/agent/pluginhost"
	"github.com/metalagent/metalagent/agent/sandbox"
	"github.com/metalagent/metalagent/plugin-sdk/tool"
)

// Deps is what the extensions need from the agent.
type Deps struct {
	Config *config.Config
	Host   *pluginhost.Host
	// Logs returns the agent's own log so far, for log.collect_system_logs.
	Logs func() []byte
	// Power is called after a power_off or run_image result is recorded:
	// reboot is false for power off. With --simulate-power it ends the
	// agent instead of acting on the machine.
	Power func(reboot bool)
	// Logger is the agent's logger.
	Logger hclog.Logger
	// Metrics counts and times steps and image writes; nil records
	// nothing.
	Metrics *metrics.Metrics
	// Sandbox carries out the actions that change the machine (the
	// rescue password file, interfaces down, efibootmgr); nil acts on the
	// machine.
	Sandbox *sandbox.Sandbox
	// Tools runs external programs (efibootmgr, ip); nil is tool.Exec.
	Tools tool.Runner
	// StopAPI is called once finalize_rescue or lockdown has answered:
	// the agent stops its API and heartbeats, and with lockdown takes its
	// interfaces down (see Lockdown). Nil: nothing stops (tests).
	StopAPI func(reason StopReason)
	// SetToken, in standalone mode, gives the API the agent token of a
	// poll.set_node_info (IPA takes a token of 32 characters or more) and
	// whether Ironic requires it.
	SetToken func(token string, required bool)

	mu sync.Mutex
	// node is the node as last received: lookup, a step's node parameter
	// or set_node_info. Commands that get no node (prepare_image,
	// cache_image, install_bootloader) choose the install device with it,
	// as IPA does with its cached node.
	node json.RawMessage
	// image and imageDevice are the image id last written by this process
	// and its device (IPA's cached_image_id): prepare_image and cache_image
	// do not write the same image again.
	image, imageDevice string
	// partitions is what get_partition_uuids answers: IPA's keys
	// "root uuid", "efi system partition uuid", "partitions", ...
	partitions map[string]any
}

// StopReason is why a command stops the agent's API.
type StopReason string

// The commands that stop the API.
const (
	// StopRescued: finalize_rescue succeeded; the API and heartbeats stop
	// so that the tenant network never sees them.
	StopRescued StopReason = "rescue"
	// StopLockdown: system.lockdown; interfaces go down as well.
	StopLockdown StopReason = "lockdown"
)

// tools is the runner of external programs.
func (d *Deps) tools() tool.Runner {
	if d.Tools == nil {
		return tool.Exec{Log: d.Logger}
	}
	return d.Tools
}

// SetNode caches the node as lookup, a step or set_node_info gave it.
func (d *Deps) SetNode(node json.RawMessage) {
	if len(node) == 0 || string(node) == "null" {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.node = append(json.RawMessage(nil), node...)
}

// cachedNode is the node last cached, nil when none.
func (d *Deps) cachedNode() json.RawMessage {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.node
}

// setImage records the image id written to dev.
func (d *Deps) setImage(id, dev string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.image, d.imageDevice = id, dev
}

// writtenImage returns the device image id was written to by this
// process, "" when it was not the last image written.
func (d *Deps) writtenImage(id string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.image != id {
		return ""
	}
	return d.imageDevice
}

func (d *Deps) setPartitions(p map[string]any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.partitions = p
}

func (d *Deps) getPartitions() map[string]any {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.partitions == nil {
		return map[string]any{}
	}
	return d.partitions
}

// RegisterAll registers every extension's commands with r.
func RegisterAll(r *Runner, d *Deps) {
	registerSteps(r, d)
	registerStandby(r, d)
	registerCache(r, d)
	registerBootc(r)
	registerImage(r, d)
	registerLog(r, d)
	registerPoll(r, d)
	registerRescue(r, d)
	registerFlow(r)
	registerSystem(r, d)
}

// noop is a Func that does nothing, for commands whose work happens
// elsewhere.
func noop(context.Context, hclog.Logger, Params) (any, error) { return nil, nil }
