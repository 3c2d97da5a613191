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
	"github.com/metalagent/metalagent/agent/pluginhost"
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
		Name:   "metalagent",
		Level:  level,
		Output: io.MultiWriter(out, logs),
	})
	return &Agent{cfg: cfg, log: log, logs: logs, started: time.Now()}
}

// Logger returns the agent's logger.
func (a *Agent) Logger() hclog.Logger { return a.log }

// hostConfig is what every plugin is told.
func (a *Agent) hostConfig() sdk.HostConfig {
	return sdk.HostConfig{
		AllowedDisks: a.cfg.AllowedDisks,
		KernelParams: a.cfg.KernelParams,
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

	deps := &commands.Deps{Config: a.cfg, Logs: a.logs.Bytes, Logger: log}
	deps.Power = func(reboot bool) { a.power(stop, reboot) }
	host, err := a.StartPlugins(ctx, pluginhost.Builtin{Name: commands.BuiltinName, Manager: commands.Builtin(deps)})
	if err != nil {
		return fmt.Errorf("start hardware managers: %w", err)
	}
	defer host.Close()
	deps.Host = host
	log.Info("stage done", "stage", "plugins loaded", "managers", len(host.Managers()), "failed", len(host.Failures()))

	// Inspection runs before lookup; lookup reuses the inventory it sent.
	insp := a.inspect(ctx, host, deps)
	inv := insp.Inventory
	if inv == nil {
		if inv, err = host.Inventory(ctx); err != nil {
			return fmt.Errorf("inventory: %w", err)
		}
	}
	macs := macAddresses(inv)
	log.Info("stage done", "stage", "inventory", "interfaces", len(macs), "disks", countOf(inv, "disks"))

	srv := &api.Server{Version: Version, Started: a.started, Logger: log.Named("api")}
	var lookup *ironic.LookupResult
	var client *ironic.Client
	if !a.cfg.Standalone {
		client = &ironic.Client{BaseURL: a.cfg.APIURL, HTTP: a.httpClient(), RequestID: a.cfg.GlobalRequestID, Logger: log.Named("ironic")}
		if len(macs) == 0 {
			return errors.New("lookup: the inventory has no interface with a MAC address")
		}
		lookup = insp.Lookup // Ironic's continue_inspection (API 1.84+) answers like lookup
		if lookup == nil {
			if lookup, err = client.LookupUntil(ctx, macs, insp.NodeUUID, a.cfg.LookupTimeout, a.cfg.LookupInterval); err != nil {
				return err
			}
		}
		log = log.With("node", lookup.Node.UUID)
		token, ok := lookup.Token()
		if !ok {
			log.Warn("lookup gave no usable agent token (already handed out to an earlier boot?); Ironic will refuse heartbeats")
		}
		srv.SetToken(token, lookup.Config.AgentTokenRequired)
		log.Info("stage done", "stage", "lookup", "heartbeat_timeout", lookup.Config.HeartbeatTimeout, "token", ok)
	}

	runner := commands.NewRunner(ctx, log.Named("commands"))
	deps.Logger = log
	commands.RegisterAll(runner, deps)
	srv.Runner = runner
	srv.Logger = log.Named("api")

	addr := net.JoinHostPort(a.cfg.ListenHost, strconv.Itoa(a.cfg.ListenPort))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	httpSrv := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 30 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- api.Serve(ctx, httpSrv, func() error { return httpSrv.Serve(ln) }) }()
	log.Info("stage done", "stage", "API serving", "address", ln.Addr().String(), "since_start", time.Since(a.started).Round(time.Microsecond))

	if lookup != nil {
		callback, err := a.callbackURL(ctx)
		if err != nil {
			return err
		}
		token, _ := lookup.Token()
		first := true
		hb := &ironic.Heartbeater{
			Client:   client,
			NodeUUID: lookup.Node.UUID,
			Timeout:  time.Duration(lookup.Config.HeartbeatTimeout * float64(time.Second)),
			Request: func() ironic.HeartbeatRequest {
				return ironic.HeartbeatRequest{CallbackURL: callback, AgentToken: token, AgentVersion: Version}
			},
			OnResult: func(err error) {
				if err == nil && first {
					first = false
					log.Info("stage done", "stage", "heartbeating", "callback_url", callback, "since_start", time.Since(a.started).Round(time.Microsecond))
				}
			},
			Logger: log.Named("heartbeat"),
		}
		runner.OnAsyncDone = hb.Force
		go hb.Run(ctx)
	}
	err = <-serveErr
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve API: %w", err)
	}
	log.Info("metalagent stopped")
	return nil
}

// callbackURL is the URL Ironic calls the agent at.
func (a *Agent) callbackURL(ctx context.Context) (string, error) {
	host := a.cfg.AdvertiseHost
	if host == "" {
		var err error
		host, err = routeSource(ctx, a.cfg.APIURL)
		if err != nil {
			return "", fmt.Errorf("detect the address to advertise (set ipa-advertise-host): %w", err)
		}
	}
	return a.cfg.AdvertiseProtocol + "://" + net.JoinHostPort(host, strconv.Itoa(a.cfg.AdvertisePort)), nil
}

// power ends the agent's run for a power action: simulated, it only logs
// and stops the agent; otherwise it powers the machine off or reboots it.
func (a *Agent) power(stop context.CancelFunc, reboot bool) {
	action := "power off"
	cmd := unix.LINUX_REBOOT_CMD_POWER_OFF
	if reboot {
		action, cmd = "reboot", unix.LINUX_REBOOT_CMD_RESTART
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
