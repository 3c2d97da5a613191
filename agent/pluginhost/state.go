package pluginhost

import (
	"github.com/metalagent/metalagent/agent/metrics"
	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// State is where a plugin stands in the host's life cycle.
type State string

// Plugin states.
const (
	// StateRunning: the plugin is in use.
	StateRunning State = "running"
	// StateRestarting: the plugin crashed or hung and is being started
	// again; calls wait for the restart.
	StateRestarting State = "restarting"
	// StateFailed: the plugin could not be started, or crashed too often;
	// dispatch skips it.
	StateFailed State = "failed"
	// StateDisabled: the plugin reported support level 0 for this machine
	// and was stopped.
	StateDisabled State = "disabled"
	// StateRefused: the host would not run the plugin (checksum mismatch,
	// protocol version, not in the manifest, manifest required).
	StateRefused State = "refused"
)

// Checksum is the verdict on a plugin executable's sha256.
type Checksum string

// Checksum verdicts.
const (
	// ChecksumVerified: the executable matched its manifest entry before
	// every launch.
	ChecksumVerified Checksum = "verified"
	// ChecksumNotVerified: the plugin's directory has no manifest.
	ChecksumNotVerified Checksum = "not verified (no manifest)"
	// ChecksumMismatch: the executable differs from its manifest entry; it
	// was not run.
	ChecksumMismatch Checksum = "mismatch"
	// ChecksumUnchecked: no verdict (a builtin manager, or a file refused
	// before its checksum was looked at).
	ChecksumUnchecked Checksum = "-"
)

// PluginInfo is the host's record of one plugin or builtin manager, for
// the CLI and log collection.
type PluginInfo struct {
	// Name is the manager's name: the plugin's manifest name or file name,
	// or the builtin's name.
	Name string `json:"name"`
	// Path is the executable; empty for a builtin.
	Path string `json:"path,omitempty"`
	// Builtin marks a manager living in the agent's own process.
	Builtin bool `json:"builtin,omitempty"`
	// Version is the name and version the manager reported.
	Version sdk.Version `json:"version"`
	// Protocol is the negotiated protocol version; 0 when none was.
	Protocol int `json:"protocol,omitempty"`
	// Level is the support level the manager reported.
	Level sdk.SupportLevel `json:"support_level"`
	// Checksum is the verdict on the executable's sha256.
	Checksum Checksum `json:"checksum"`
	// State is the plugin's state.
	State State `json:"state"`
	// Order is the position in dispatch order (1 is asked first); 0 for a
	// plugin not in the order.
	Order int `json:"order,omitempty"`
	// PID is the plugin's current process; 0 when none runs.
	PID int `json:"pid,omitempty"`
	// Restarts counts the times the host started the plugin again.
	Restarts int `json:"restarts,omitempty"`
	// Error is the last error, if any.
	Error string `json:"error,omitempty"`
}

// Plugins returns the state of every plugin and builtin manager: the
// managers in dispatch order first, then the plugins not in use.
func (h *Host) Plugins() []PluginInfo {
	out := make([]PluginInfo, 0, len(h.managers)+len(h.others))
	for i, m := range h.managers {
		info := PluginInfo{
			Name: m.Name, Path: m.Path, Builtin: m.proc == nil, Version: m.Version,
			Level: m.Level, Checksum: ChecksumUnchecked, State: StateRunning, Order: i + 1,
		}
		if m.proc != nil {
			m.proc.fill(&info)
		}
		out = append(out, info)
	}
	return append(out, h.others...)
}

// Statuses returns every plugin's and builtin's state and restarts for
// the metrics (see metrics.Metrics.WatchPlugins).
func (h *Host) Statuses() []metrics.PluginStatus {
	infos := h.Plugins()
	out := make([]metrics.PluginStatus, len(infos))
	for i, p := range infos {
		out[i] = metrics.PluginStatus{Name: p.Name, State: string(p.State), Restarts: p.Restarts}
	}
	return out
}
