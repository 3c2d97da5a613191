// Package pluginhost runs the agent's hardware managers: it discovers plugin
// executables, launches each as its own process through hashicorp/go-plugin
// (gRPC, AutoMTLS), orders the managers by the support level they report,
// merges their inventories and step lists, and dispatches steps and hardware
// methods to the highest manager that implements them, falling through on
// "not supported" as IPA does.
package pluginhost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// Builtin is a hardware manager that lives in the agent's own process, such
// as the host's image-writing deploy step.
type Builtin struct {
	Name    string
	Manager sdk.HardwareManager
}

// Options configure a Host.
type Options struct {
	// Dirs are searched, in order, for plugin executables.
	Dirs []string
	// Config is sent to every manager's EvaluateHardwareSupport.
	Config sdk.HostConfig
	// Builtins are in-process managers ordered with the plugins.
	Builtins []Builtin
	// StartTimeout bounds a plugin's launch and handshake.
	StartTimeout time.Duration
	// CallTimeout bounds support, version, inventory and step-list calls.
	CallTimeout time.Duration
	// Logger receives the host's lines and the plugins' own.
	Logger hclog.Logger
}

// Manager is one hardware manager in use.
type Manager struct {
	// Name is the plugin's file name, or the builtin's name.
	Name string
	// Path is the plugin executable; empty for a builtin.
	Path string
	// Level is the support level it reported.
	Level sdk.SupportLevel
	// Version is its reported name and version.
	Version sdk.Version
	// StartDuration is how long launch, handshake and first calls took.
	StartDuration time.Duration

	hm     sdk.HardwareManager
	client *plugin.Client
}

// Failure records a plugin that could not be used.
type Failure struct {
	Name string
	Path string
	Err  error
}

// Host owns the running managers.
type Host struct {
	log      hclog.Logger
	timeout  time.Duration
	managers []*Manager
	failures []Failure
	once     sync.Once
}

// Start discovers and launches the plugins, evaluates every manager's
// support and returns the host with the managers ordered highest first
// (ties broken by name). A plugin that fails to start is logged and
// recorded in Failures; it never stops the others.
func Start(ctx context.Context, opts Options) (*Host, error) {
	log := opts.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 10 * time.Second
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = time.Minute
	}
	h := &Host{log: log, timeout: opts.CallTimeout}
	paths, err := discover(opts.Dirs, log)
	if err != nil {
		return nil, err
	}
	type launched struct {
		m   *Manager
		err error
	}
	results := make([]launched, len(paths))
	var wg sync.WaitGroup
	for i, p := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := h.launch(ctx, p, opts)
			results[i] = launched{m, err}
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r.err != nil {
			h.failures = append(h.failures, Failure{Name: filepath.Base(paths[i]), Path: paths[i], Err: r.err})
			log.Error("plugin not used", "plugin", filepath.Base(paths[i]), "path", paths[i], "error", r.err)
			continue
		}
		if r.m != nil {
			h.managers = append(h.managers, r.m)
		}
	}
	for _, b := range opts.Builtins {
		start := time.Now()
		m := &Manager{Name: b.Name, hm: b.Manager}
		if err := h.evaluate(ctx, m, opts.Config); err != nil {
			h.failures = append(h.failures, Failure{Name: b.Name, Err: err})
			log.Error("builtin manager not used", "manager", b.Name, "error", err)
			continue
		}
		m.StartDuration = time.Since(start)
		if m.Level > sdk.SupportNone {
			h.managers = append(h.managers, m)
		}
	}
	sort.SliceStable(h.managers, func(i, j int) bool {
		a, b := h.managers[i], h.managers[j]
		if a.Level != b.Level {
			return a.Level > b.Level
		}
		return a.Name < b.Name
	})
	for i, m := range h.managers {
		log.Info("hardware manager in use", "order", i+1, "manager", m.Name, "support_level", int(m.Level),
			"version", m.Version.Name+" "+m.Version.Version, "start", m.StartDuration)
	}
	if len(h.managers) == 0 {
		h.Close()
		return nil, errors.New("no hardware manager is usable: no plugin started or all reported support level 0")
	}
	return h, nil
}

// discover lists the executable regular files of dirs, sorted by name
// within each directory. A missing directory is logged, not an error.
func discover(dirs []string, log hclog.Logger) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if errors.Is(err, os.ErrNotExist) {
			log.Warn("plugin directory does not exist", "dir", dir)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read plugin directory: %w", err)
		}
		for _, e := range entries {
			p := filepath.Join(dir, e.Name())
			fi, err := os.Stat(p)
			if err != nil || !fi.Mode().IsRegular() {
				continue
			}
			if fi.Mode().Perm()&0o111 == 0 {
				log.Debug("skipping non-executable file in plugin directory", "path", p)
				continue
			}
			if seen[e.Name()] {
				log.Warn("plugin name already taken by an earlier directory; skipping", "path", p)
				continue
			}
			seen[e.Name()] = true
			out = append(out, p)
		}
	}
	return out, nil
}

// launch starts one plugin executable and evaluates its support. It returns
// a nil Manager (and no error) for a plugin that reports SupportNone.
func (h *Host) launch(ctx context.Context, path string, opts Options) (*Manager, error) {
	start := time.Now()
	name := filepath.Base(path)
	cmd := exec.Command(path)
	// The plugin dies with the agent, even when the agent is SIGKILLed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig: sdk.Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{
			sdk.ProtocolVersion: {sdk.PluginName: &sdk.GRPCPlugin{}},
		},
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		Managed:          true,
		StartTimeout:     opts.StartTimeout,
		// go-plugin names the logger after the executable itself.
		Logger: h.log,
	})
	rpc, err := client.Client()
	if err != nil {
		client.Kill()
		return nil, fmt.Errorf("start plugin %s: %w (is it a metalagent plugin built with plugin-sdk?)", path, err)
	}
	raw, err := rpc.Dispense(sdk.PluginName)
	if err != nil {
		client.Kill()
		return nil, fmt.Errorf("plugin %s: dispense %s: %w", path, sdk.PluginName, err)
	}
	hm, ok := raw.(sdk.HardwareManager)
	if !ok {
		client.Kill()
		return nil, fmt.Errorf("plugin %s: served %T, not a hardware manager", path, raw)
	}
	m := &Manager{Name: name, Path: path, hm: hm, client: client}
	if err := h.evaluate(ctx, m, opts.Config); err != nil {
		client.Kill()
		return nil, err
	}
	if m.Level <= sdk.SupportNone {
		h.log.Info("plugin reports no support for this hardware; stopped", "plugin", name)
		client.Kill()
		return nil, nil
	}
	m.StartDuration = time.Since(start)
	return m, nil
}

// evaluate asks a manager for its support level and version.
func (h *Host) evaluate(ctx context.Context, m *Manager, cfg sdk.HostConfig) error {
	cctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	level, err := m.hm.EvaluateHardwareSupport(cctx, cfg)
	if err != nil {
		return fmt.Errorf("%s: evaluate hardware support: %w", m.Name, err)
	}
	m.Level = level
	if level <= sdk.SupportNone {
		return nil
	}
	v, err := m.hm.Version(cctx)
	if err != nil {
		return fmt.Errorf("%s: version: %w", m.Name, err)
	}
	m.Version = v
	return nil
}

// Managers returns the managers in dispatch order.
func (h *Host) Managers() []*Manager { return h.managers }

// Failures returns the plugins that could not be used.
func (h *Host) Failures() []Failure { return h.failures }

// Versions returns IPA's hardware_manager_version: {name: version} of every
// manager.
func (h *Host) Versions() map[string]string {
	out := make(map[string]string, len(h.managers))
	for _, m := range h.managers {
		out[m.Version.Name] = m.Version.Version
	}
	return out
}

// Close stops every plugin process.
func (h *Host) Close() {
	h.once.Do(func() {
		for _, m := range h.managers {
			if m.client != nil {
				m.client.Kill()
			}
		}
	})
}

// callCtx returns a context bounded by the host's call timeout.
func (h *Host) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, h.timeout)
}

// inventoryJSON returns a manager's inventory as JSON, as the plugin sent it
// when possible so fields unknown to this SDK survive.
func (h *Host) inventoryJSON(ctx context.Context, m *Manager) (json.RawMessage, error) {
	if r, ok := m.hm.(interface {
		InventoryJSON(context.Context) (json.RawMessage, error)
	}); ok {
		return r.InventoryJSON(ctx)
	}
	inv, err := m.hm.Inventory(ctx)
	if err != nil {
		return nil, err
	}
	return json.Marshal(inv)
}
