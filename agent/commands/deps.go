package commands

import (
	"context"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/metalagent/metalagent/agent/config"
	"github.com/metalagent/metalagent/agent/metrics"
	"github.com/metalagent/metalagent/agent/pluginhost"
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

	mu sync.Mutex
	// partitions is what get_partition_uuids answers: IPA's keys
	// "root uuid", "efi system partition uuid", "partitions", ...
	partitions map[string]any
	// written records image ids already written by this process.
	written map[string]string
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
	registerImage(r, d)
	registerLog(r, d)
	registerPoll(r, d)
}

// noop is a Func that does nothing, for commands whose work happens
// elsewhere.
func noop(context.Context, hclog.Logger, Params) (any, error) { return nil, nil }
