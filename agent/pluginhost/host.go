// Package pluginhost runs the agent's hardware managers: it discovers plugin
// executables (verifying them against a directory's manifest), launches
// each as its own process through hashicorp/go-plugin (gRPC, AutoMTLS),
// orders the managers by the support level they report, merges their
// inventories and step lists, and dispatches steps and hardware methods to
// the highest manager that implements them, falling through on "not
// supported" as IPA does. Calls have deadlines; a plugin that crashes or
// hangs is killed and restarted with backoff, and marked failed when it
// does so too often. See docs/plugin-runtime.md.
package pluginhost

import (
	"context"
	"crypto/tls"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/metalagent/metalagent/agent/metrics"
	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// Builtin is a hardware manager that lives in the agent's own process, such
// as the host's image-writing deploy step.
type Builtin struct {
	// Name is the manager's name.
	Name string
	// Manager is the implementation.
	Manager sdk.HardwareManager
}

// Options configure a Host. Zero values take the documented defaults.
type Options struct {
	// Dirs are searched, in order, for plugin executables.
	Dirs []string
	// Config is sent to every manager's EvaluateHardwareSupport, at start
	// and after every restart.
	Config sdk.HostConfig
	// Builtins are in-process managers ordered with the plugins.
	Builtins []Builtin
	// StartTimeout bounds a plugin's launch and handshake (default 10 s).
	StartTimeout time.Duration
	// CallTimeout bounds support, version, inventory and step-list calls,
	// and hardware methods (Execute without a step kind) (default 30 s).
	CallTimeout time.Duration
	// StepTimeout bounds a step's Execute; 0 means no bound beyond the
	// caller's context (an erase may take hours).
	StepTimeout time.Duration
	// Protocols are the hardware-manager protocol versions the host speaks
	// (default: sdk.ProtocolVersion only).
	Protocols []int
	// RequireManifest refuses every plugin of a directory without a
	// manifest.
	RequireManifest bool
	// MaxCrashes crashes (or hangs) within CrashWindow mark a plugin failed
	// (defaults 3 and 5 minutes).
	MaxCrashes  int
	CrashWindow time.Duration
	// RestartBackoff is the delay before the first restart, doubled for
	// each crash within the window up to RestartBackoffMax (defaults 100 ms
	// and 30 s).
	RestartBackoff    time.Duration
	RestartBackoffMax time.Duration
	// GOMAXPROCS, when positive, is set in each plugin's environment. One
	// processor per plugin halves a small call's round trip on a 2-core
	// machine (fewer cross-processor wake-ups) and trims start-up CPU; a Go
	// plugin that wants more calls runtime.GOMAXPROCS itself. 0 leaves the
	// plugins' own default.
	GOMAXPROCS int
	// Logger receives the host's lines and the plugins' own.
	Logger hclog.Logger
	// Metrics counts and times the calls to every manager; nil records
	// nothing.
	Metrics *metrics.Metrics
}

// withDefaults fills the zero values.
func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 10 * time.Second
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = 30 * time.Second
	}
	if o.StepTimeout < 0 {
		o.StepTimeout = 0
	}
	if len(o.Protocols) == 0 {
		o.Protocols = []int{sdk.ProtocolVersion}
	}
	if o.MaxCrashes <= 0 {
		o.MaxCrashes = 3
	}
	if o.CrashWindow <= 0 {
		o.CrashWindow = 5 * time.Minute
	}
	if o.RestartBackoff <= 0 {
		o.RestartBackoff = 100 * time.Millisecond
	}
	if o.RestartBackoffMax <= 0 {
		o.RestartBackoffMax = 30 * time.Second
	}
	return o
}

// Manager is one hardware manager in the dispatch order. Its fields are
// fixed at start: a restarted plugin keeps its place.
type Manager struct {
	// Name is the plugin's manifest name or file name, or the builtin's
	// name.
	Name string
	// Path is the plugin executable; empty for a builtin.
	Path string
	// Level is the support level it reported at start.
	Level sdk.SupportLevel
	// Version is the name and version it reported at start.
	Version sdk.Version
	// StartDuration is how long launch, handshake and first calls took.
	StartDuration time.Duration

	proc    *proc               // a plugin's supervisor; nil for a builtin
	builtin sdk.HardwareManager // a builtin's implementation
}

// inService reports whether calls may reach the manager.
func (m *Manager) inService() bool { return m.proc == nil || m.proc.inService() }

// Failure records a plugin that is not in use.
type Failure struct {
	// Name is the plugin's name; Path its executable.
	Name string
	Path string
	// Err is why it is not in use.
	Err error
}

// errHostClosed is the last error of plugins stopped by Close.
var errHostClosed = errors.New("plugin host closed")

// Host owns the running managers.
type Host struct {
	log      hclog.Logger
	opts     Options
	managers []*Manager   // dispatch order, fixed at start
	others   []PluginInfo // plugins never in use: refused, failed, disabled

	// ctx ends when the host closes; restarts use it.
	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex // guards closed and wg.Add
	closed bool
	wg     sync.WaitGroup // restart goroutines
	once   sync.Once

	// tlsOnce makes the host's client certificate, shared by every launch.
	tlsOnce    sync.Once
	clientPair sdk.TLSKeyPair
	clientCert tls.Certificate
	tlsErr     error
}

// Start discovers and launches the plugins in parallel, evaluates every
// manager's support and returns the host with the managers ordered highest
// first (ties broken by name). A plugin that is refused or fails to start
// is logged and recorded (Plugins, Failures); it never stops the others.
func Start(ctx context.Context, opts Options) (*Host, error) {
	opts = opts.withDefaults()
	h := &Host{log: opts.Logger, opts: opts}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	cands, err := discover(opts.Dirs, opts.Protocols, opts.RequireManifest, h.log)
	if err != nil {
		h.cancel()
		return nil, err
	}
	type launched struct {
		inst    *instance
		verdict Checksum
		err     error
		took    time.Duration
	}
	results := make([]launched, len(cands))
	var wg sync.WaitGroup
	for i := range cands {
		if cands[i].err != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			inst, verdict, err := h.startInstance(ctx, &cands[i])
			results[i] = launched{inst, verdict, err, time.Since(start)}
		}()
	}
	wg.Wait()
	for i, c := range cands {
		r := results[i]
		switch {
		case c.err != nil:
			h.notUsed(PluginInfo{Name: c.name, Path: c.path, Checksum: c.verdict, State: c.state}, c.err)
		case r.err != nil:
			state := StateFailed
			var ref *refusal
			if errors.As(r.err, &ref) {
				state = StateRefused
			}
			h.notUsed(PluginInfo{Name: c.name, Path: c.path, Checksum: r.verdict, State: state}, r.err)
		case r.inst.level <= sdk.SupportNone:
			r.inst.stop()
			h.log.Info("plugin reports no support for this hardware; stopped", "plugin", c.name)
			h.others = append(h.others, PluginInfo{Name: c.name, Path: c.path, Protocol: r.inst.protocol,
				Checksum: r.verdict, State: StateDisabled})
		default:
			h.managers = append(h.managers, &Manager{Name: c.name, Path: c.path, Level: r.inst.level,
				Version: r.inst.version, StartDuration: r.took, proc: newProc(h, c, r.inst, r.verdict)})
		}
	}
	h.addBuiltins(ctx)
	sort.SliceStable(h.managers, func(i, j int) bool {
		a, b := h.managers[i], h.managers[j]
		if a.Level != b.Level {
			return a.Level > b.Level
		}
		return a.Name < b.Name
	})
	for _, p := range h.Plugins() {
		if p.Order > 0 {
			h.log.Info("hardware manager in use", "order", p.Order, "manager", p.Name, "support_level", int(p.Level),
				"version", p.Version.Name+" "+p.Version.Version, "protocol", p.Protocol, "checksum", p.Checksum,
				"pid", p.PID, "start", h.managers[p.Order-1].StartDuration)
		}
	}
	if len(h.managers) == 0 {
		h.Close()
		return nil, errors.New("no hardware manager is usable: no plugin started or all reported support level 0")
	}
	return h, nil
}

// notUsed records and logs a plugin that is not launched or did not start.
func (h *Host) notUsed(info PluginInfo, err error) {
	info.Error = err.Error()
	h.others = append(h.others, info)
	kv := []any{"plugin", info.Name, "path", info.Path, "state", info.State, "checksum", info.Checksum, "error", err}
	var ref *refusal
	if errors.As(err, &ref) {
		kv = append(kv, ref.kv...)
	}
	if info.State == StateRefused {
		h.log.Error("plugin refused", kv...)
		return
	}
	h.log.Error("plugin not used", kv...)
}

// addBuiltins evaluates the builtin managers and adds those in use.
func (h *Host) addBuiltins(ctx context.Context) {
	for _, b := range h.opts.Builtins {
		start := time.Now()
		level, v, err := h.evaluate(ctx, b.Name, b.Manager)
		switch {
		case err != nil:
			h.others = append(h.others, PluginInfo{Name: b.Name, Builtin: true, Checksum: ChecksumUnchecked, State: StateFailed, Error: err.Error()})
			h.log.Error("builtin manager not used", "manager", b.Name, "error", err)
		case level <= sdk.SupportNone:
			h.others = append(h.others, PluginInfo{Name: b.Name, Builtin: true, Checksum: ChecksumUnchecked, State: StateDisabled})
		default:
			h.managers = append(h.managers, &Manager{Name: b.Name, Level: level, Version: v,
				StartDuration: time.Since(start), builtin: b.Manager})
		}
	}
}

// Managers returns the managers in service, in dispatch order.
func (h *Host) Managers() []*Manager {
	out := make([]*Manager, 0, len(h.managers))
	for _, m := range h.managers {
		if m.inService() {
			out = append(out, m)
		}
	}
	return out
}

// Failures returns the plugins not in use: refused, failed at start, and
// failed (or disabled) since.
func (h *Host) Failures() []Failure {
	var out []Failure
	for _, m := range h.managers {
		if !m.inService() {
			out = append(out, Failure{Name: m.Name, Path: m.Path, Err: m.proc.lastError()})
		}
	}
	for _, o := range h.others {
		if o.State == StateFailed || o.State == StateRefused {
			out = append(out, Failure{Name: o.Name, Path: o.Path, Err: errors.New(o.Error)})
		}
	}
	return out
}

// Versions returns IPA's hardware_manager_version: {name: version} of every
// manager in the order, as reported at start. A plugin failed since keeps
// its entry, so that Ironic's steps reach dispatch and fail naming it
// rather than as a version mismatch.
func (h *Host) Versions() map[string]string {
	out := make(map[string]string, len(h.managers))
	for _, m := range h.managers {
		out[m.Version.Name] = m.Version.Version
	}
	return out
}

// Close stops every plugin process and waits for restarts in progress.
func (h *Host) Close() {
	h.once.Do(func() {
		h.mu.Lock()
		h.closed = true
		h.mu.Unlock()
		h.cancel()
		var wg sync.WaitGroup
		for _, m := range h.managers {
			if m.proc != nil {
				wg.Go(m.proc.stop)
			}
		}
		wg.Wait()
		h.wg.Wait()
	})
}

// goRestart starts p's restart goroutine unless the host is closed.
func (h *Host) goRestart(p *proc, attempt int) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.wg.Add(1)
	go p.restart(attempt)
	return true
}

// backoff is the delay before the restart following the n-th crash within
// the window: RestartBackoff doubled n-1 times, capped.
func (h *Host) backoff(n int) time.Duration {
	d := h.opts.RestartBackoff
	for i := 1; i < n && d < h.opts.RestartBackoffMax; i++ {
		d *= 2
	}
	return min(d, h.opts.RestartBackoffMax)
}
