// Package agent wires the metalagent host together: configuration, plugin
// host, inventory, lookup, the API and heartbeats, in IPA's boot order.
package agent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"

	"github.com/metalagent/metalagent/agent/api"
	"github.com/metalagent/metalagent/agent/commands"
	"github.com/metalagent/metalagent/agent/config"
	"github.com/metalagent/metalagent/agent/ironic"
	"github.com/metalagent/metalagent/agent/metrics"
	"github.com/metalagent/metalagent/agent/pluginhost"
	"github.com/metalagent/metalagent/agent/sandbox"
	"github.com/metalagent/metalagent/agent/stages"
	"github.com/metalagent/metalagent/agent/tlsconf"
	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// Version is the agent's version, sent to Ironic as agent_version.
const Version = "0.1.0"

// Agent is one run of the agent.
type Agent struct {
	cfg     *config.Config
	log     hclog.Logger
	logs    *LogBuffer
	started time.Time
	// managers are in-process managers Run adds to its own (tests).
	managers []pluginhost.Builtin
	// metrics are the run's metrics; nil when off and for the
	// command-line tools.
	metrics *metrics.Metrics
	// stages are the run's boot stages (nil outside Run).
	stages *stages.Tracker
}

// New returns an agent for cfg, logging to out (and to an in-memory buffer
// for log collection).
func New(cfg *config.Config, out io.Writer) *Agent {
	logs := NewLogBuffer(4 << 20)
	level := hclog.Info
	if cfg.Debug {
		level = hclog.Debug
	}
	log := hclog.New(&hclog.LoggerOptions{
		Name:       "metalagent",
		Level:      level,
		Output:     io.MultiWriter(out, logs),
		JSONFormat: cfg.LogFormat == "json",
	})
	if cfg.GlobalRequestID != "" {
		log = log.With("global_request_id", cfg.GlobalRequestID)
	}
	for _, w := range cfg.Warnings {
		log.Warn("configuration: "+w.Problem, "option", w.Option, "source", w.Source)
	}
	for _, s := range cfg.Settings() {
		log.Debug("configuration", "option", s.Option, "value", s.Value, "source", s.Source)
	}
	return &Agent{cfg: cfg, log: log, logs: logs, started: time.Now()}
}

// Logger returns the agent's logger.
func (a *Agent) Logger() hclog.Logger { return a.log }

// hostConfig is what every plugin is told.
func (a *Agent) hostConfig() sdk.HostConfig {
	return sdk.HostConfig{
		AllowedDisks: a.cfg.AllowedDisks,
		KernelParams: a.cfg.PluginParams(),
		BootIF:       a.cfg.BootIF,
		Debug:        a.cfg.Debug,
	}
}

// StartPlugins launches the plugins and the given builtin managers.
func (a *Agent) StartPlugins(ctx context.Context, builtins ...pluginhost.Builtin) (*pluginhost.Host, error) {
	return pluginhost.Start(ctx, pluginhost.Options{
		Dirs:            a.cfg.PluginDirs,
		Config:          a.hostConfig(),
		Builtins:        builtins,
		StartTimeout:    a.cfg.PluginStartTimeout,
		CallTimeout:     a.cfg.PluginCallTimeout,
		StepTimeout:     a.cfg.PluginStepTimeout,
		GOMAXPROCS:      a.cfg.PluginGOMAXPROCS,
		RequireManifest: a.cfg.RequirePluginManifest,
		MaxCrashes:      a.cfg.PluginMaxCrashes,
		CrashWindow:     a.cfg.PluginCrashWindow,
		Logger:          a.log.Named("plugins"),
		Metrics:         a.metrics,
	})
}

// StartLocal launches the plugins with the agent's builtin manager, as Run
// does, for the command-line tools (plugins, inventory, steps, run-step).
// Power actions are only logged.
func (a *Agent) StartLocal(ctx context.Context) (*pluginhost.Host, error) {
	deps := &commands.Deps{Config: a.cfg, Logs: a.logs.Bytes, Logger: a.log}
	deps.Power = func(reboot bool) { a.log.Warn("power action ignored by a command-line tool", "reboot", reboot) }
	host, err := a.StartPlugins(ctx, pluginhost.Builtin{Name: commands.BuiltinName, Manager: commands.Builtin(deps)})
	if err != nil {
		return nil, fmt.Errorf("start hardware managers: %w", err)
	}
	deps.Host = host
	return host, nil
}

// httpClient returns the client used towards Ironic.
func (a *Agent) httpClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if t := a.cfg.HTTPRequestTimeout; t > 0 {
		tr.DialContext = (&net.Dialer{Timeout: t, KeepAlive: 30 * time.Second}).DialContext
	}
	if a.cfg.Insecure {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // operator asked for it
	}
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}
}

// Run boots the agent and serves until ctx ends or a power action ends it.
func (a *Agent) Run(ctx context.Context) error {
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	log := a.log
	log.Info("metalagent starting", "version", Version, "api_url", a.cfg.APIURL, "standalone", a.cfg.Standalone,
		"plugin_dirs", a.cfg.PluginDirs, "allowed_disks", a.cfg.AllowedDisks)

	static, err := a.staticTLS()
	if err != nil {
		return err
	}
	// The auto-TLS key is made while plugins launch (see autoTLS).
	var autoKey *tlsconf.PendingKey
	if static == nil && a.cfg.EnableAutoTLS && !a.cfg.Standalone {
		autoKey = tlsconf.GenerateKeyAsync(a.cfg.TLSCertificateCurve)
	}
	a.metrics = a.startMetrics(ctx)
	// The boot stages, and the API answering GET /v1/status with them
	// from now on (commands once the stages up to lookup are done).
	st := stages.New(log, a.started, stages.Boot...)
	a.stages = st
	srv := &api.Server{Version: Version, Started: a.started, Logger: log.Named("api"), Details: func() any { return st.Report() }}
	if a.cfg.AgentToken != "" {
		srv.SetToken(a.cfg.AgentToken, a.cfg.AgentTokenRequired)
	}
	// finalize_rescue and lockdown end the API and the heartbeats, not the
	// agent: apiCtx ends them, stopped says why.
	apiCtx, stopAPI := context.WithCancel(ctx)
	defer stopAPI()
	endpoint, err := a.openAPI(apiCtx, srv, static, st)
	if err != nil {
		return err
	}
	sb, err := sandbox.New(a.cfg.Sandbox, log.Named("sandbox"))
	if err != nil {
		return err
	}
	if sb.Enabled() {
		log.Info("sandbox: actions that change the machine are recorded, not done", "dir", sb.Dir())
	}
	deps := &commands.Deps{Config: a.cfg, Logs: a.logs.Bytes, Logger: log, Metrics: a.metrics, Sandbox: sb}
	deps.Power = func(reboot bool) { a.power(ctx, sb, stop, reboot) }
	builtins := append([]pluginhost.Builtin{{Name: commands.BuiltinName, Manager: commands.Builtin(deps)}}, a.managers...)
	st.Start(stages.Plugins)
	host, err := a.StartPlugins(ctx, builtins...)
	if err != nil {
		err = fmt.Errorf("start hardware managers: %w", err)
		st.Fail(stages.Plugins, err)
		return err
	}
	defer host.Close()
	deps.Host = host
	a.metrics.WatchPlugins(host.Statuses)
	st.Done(stages.Plugins, "managers", len(host.Managers()), "failed", len(host.Failures()))
	for _, f := range host.Failures() {
		st.Warn(stages.Plugins, fmt.Sprintf("plugin %s not in use: %v", f.Name, f.Err), "path", f.Path)
	}
	if err := sleepCtx(ctx, a.cfg.HardwareInitializationDelay); err != nil {
		return fmt.Errorf("hardware initialization delay: %w", err)
	}
	if err := a.diskWaitStage(ctx, st, installDiskProbe(host)); err != nil {
		return err
	}

	// Inspection runs before lookup; lookup reuses the inventory it sent.
	insp := a.inspect(ctx, host, deps, st)
	st.Start(stages.Inventory)
	inv := insp.Inventory
	if inv == nil {
		if inv, err = host.Inventory(ctx); err != nil {
			err = fmt.Errorf("inventory: %w", err)
			st.Fail(stages.Inventory, err)
			return err
		}
	}
	macs := macAddresses(inv)
	st.Done(stages.Inventory, "interfaces", len(macs), "disks", countOf(inv, "disks"))
	a.networkStage(ctx, st)
	var lookup *ironic.LookupResult
	var client *ironic.Client
	if !a.cfg.Standalone {
		client = &ironic.Client{BaseURL: a.cfg.APIURL, HTTP: a.httpClient(), RequestID: a.cfg.GlobalRequestID,
			PinnedVersion: a.cfg.IronicAPIVersion, Logger: log.Named("ironic"), Metrics: a.metrics,
			OnLookupRetry: func(_ int, err error, retryIn time.Duration) {
				st.Retry(stages.Lookup, err, "retry_in", retryIn.Round(time.Millisecond).String())
				a.recheckNetwork(ctx, st)
			}}
		if len(macs) == 0 {
			err := errors.New("lookup: the inventory has no interface with a MAC address")
			st.Fail(stages.Lookup, err)
			return err
		}
		st.Start(stages.Lookup, "macs", macs)
		lookup = insp.Lookup // Ironic's continue_inspection (API 1.84+) answers like lookup
		if lookup == nil {
			if lookup, err = client.LookupUntil(ctx, macs, insp.NodeUUID, a.cfg.LookupTimeout, a.cfg.LookupInterval); err != nil {
				st.Fail(stages.Lookup, err)
				return err
			}
		}
		if st.State(stages.Network) == stages.Failed {
			st.Done(stages.Network, "reached", "Ironic answered the lookup")
		}
		log = log.With("node", lookup.Node.UUID)
		deps.SetNode(lookup.Node.Raw)
		token, ok := a.token(lookup)
		srv.SetToken(token, lookup.Config.AgentTokenRequired || a.cfg.AgentTokenRequired)
		st.Done(stages.Lookup, "node", lookup.Node.UUID, "heartbeat_timeout", lookup.Config.HeartbeatTimeout, "token", ok)
		if !ok {
			st.Warn(stages.Lookup, "no usable agent token: Ironic handed it to an earlier boot or start of this agent "+
				"and will refuse heartbeats (power-cycle the node through Ironic for a new one)")
		}
		a.applyLookupConfig(lookup.Config, log)
	} else {
		st.Skip(stages.Lookup, "standalone")
		st.Skip(stages.Heartbeat, "standalone")
	}

	runner := commands.NewRunner(ctx, log.Named("commands"))
	runner.Metrics = a.metrics
	deps.Logger = log
	deps.SetToken = srv.SetToken
	stopped := make(chan commands.StopReason, 1)
	deps.StopAPI = func(why commands.StopReason) {
		select {
		case stopped <- why:
		default:
		}
		stopAPI()
	}
	commands.RegisterAll(runner, deps)
	srv.Runner = runner
	srv.Logger = log.Named("api")

	// TLS as IPA decides it: static if configured, else auto-TLS for the
	// advertised host when Ironic takes agent_verify_ca, else plain.
	st.Start(stages.API)
	served := plainAPI
	if static != nil {
		served = static.withMinVersion(a.cfg.TLSMinVersion)
	}
	var advertise, callback string
	if lookup != nil {
		advertise, err = a.advertiseHost(ctx)
		if err != nil {
			st.Fail(stages.API, fmt.Errorf("advertised address: %w", err))
			return err
		}
		a.checkStaticName(served, advertise, log)
		if static == nil {
			auto, err := a.autoTLS(ctx, client, advertise, autoKey, log.Named("tls"))
			if err != nil {
				st.Fail(stages.API, fmt.Errorf("auto-TLS: %w", err))
				return err
			}
			if auto != nil {
				served = auto
			}
		}
		callback = served.protocol(a.cfg.AdvertiseProtocol, log) + "://" + net.JoinHostPort(advertise, strconv.Itoa(a.cfg.AdvertisePort))
	}
	endpoint.commandsReady(served)
	st.Done(stages.API, "address", endpoint.address(), "tls", served.mode, "callback_url", callback)
	go a.writeAutoTLS(served, log.Named("tls"))

	if lookup != nil {
		verifyCA := served.verifyCA
		token, _ := a.token(lookup)
		hb := &ironic.Heartbeater{
			Client:   client,
			NodeUUID: lookup.Node.UUID,
			Timeout:  time.Duration(lookup.Config.HeartbeatTimeout * float64(time.Second)),
			Request: func() ironic.HeartbeatRequest {
				return ironic.HeartbeatRequest{CallbackURL: callback, AgentToken: token, AgentVersion: Version, AgentVerifyCA: verifyCA,
					AgentStatus: st.AgentStatus(), AgentStatusMessage: statusMessage(st)}
			},
			OnResult: st.Beat,
			Logger:   log.Named("heartbeat"),
		}
		runner.OnAsyncDone = hb.Force
		st.Start(stages.Heartbeat, "node", lookup.Node.UUID)
		go hb.Run(apiCtx)
	}
	err = <-endpoint.done
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve API: %w", err)
	}
	select {
	case why := <-stopped:
		// IPA stays up without its API so that no service manager starts
		// a new agent that would serve one again.
		if why == commands.StopLockdown {
			deps.Lockdown(ctx, log.Named("lockdown"))
		}
		log.Info("API and heartbeats stopped; the agent idles until it is ended", "by", string(why))
		<-ctx.Done()
	default:
	}
	log.Info("metalagent stopped")
	return nil
}

// token is the agent token: the one lookup handed out, else the
// pre-shared ipa-agent-token, as IPA keeps the token it had.
func (a *Agent) token(lookup *ironic.LookupResult) (string, bool) {
	if t, ok := lookup.Token(); ok {
		return t, true
	}
	return a.cfg.AgentToken, a.cfg.AgentToken != ""
}

// power ends the agent's run for a power action: simulated, it only logs
// and stops the agent; otherwise it powers the machine off or reboots it.
func (a *Agent) power(ctx context.Context, sb *sandbox.Sandbox, stop context.CancelFunc, reboot bool) {
	action := "power off"
	cmd := unix.LINUX_REBOOT_CMD_POWER_OFF
	if reboot {
		action, cmd = "reboot", unix.LINUX_REBOOT_CMD_RESTART
	}
	if sb.Enabled() {
		if err := sb.Do(ctx, "power", map[string]any{"action": action}, "the machine would "+action, nil); err != nil {
			a.log.Error("sandbox: cannot record the power action", "error", err)
		}
	}
	if a.cfg.SimulatePower {
		a.log.Info("simulated power action: not acting on the machine; agent exits", "action", action)
		stop()
		return
	}
	a.log.Info("power action", "action", action)
	unix.Sync()
	if err := unix.Reboot(cmd); err != nil {
		a.log.Error("power action failed", "action", action, "error", err)
		if os.Getpid() != 1 {
			stop()
		}
	}
}

// macAddresses lists the MACs of the inventory's interfaces, in order.
func macAddresses(inv map[string]any) []string {
	var out []string
	ifs, _ := inv["interfaces"].([]any)
	for _, i := range ifs {
		m, _ := i.(map[string]any)
		if mac, _ := m["mac_address"].(string); mac != "" {
			out = append(out, mac)
		}
	}
	return out
}

func countOf(inv map[string]any, key string) int {
	l, _ := inv[key].([]any)
	return len(l)
}
