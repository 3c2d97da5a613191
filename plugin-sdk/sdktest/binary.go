package sdktest

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// CheckBinary launches the plugin executable at path as the host does, runs
// the checks (the handshake first) and returns the problems found. The
// plugin is stopped before it returns.
func CheckBinary(ctx context.Context, path string, opts Options) []Problem {
	return InspectBinary(ctx, path, opts).Problems()
}

// InspectBinary is CheckBinary returning the full report, the plugin's
// start time and the end of its stderr included.
func InspectBinary(ctx context.Context, path string, opts Options) *Report {
	opts = opts.withDefaults()
	stderr := &tail{max: 64 << 10}
	cmd := exec.Command(path)
	setPdeathsig(cmd)
	// The host's client configuration (agent/pluginhost).
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig: sdk.Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{
			sdk.ProtocolVersion: {sdk.PluginName: &sdk.GRPCPlugin{}},
		},
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		StartTimeout:     opts.StartTimeout,
		Logger:           hclog.NewNullLogger(),
		Stderr:           stderr,
	})
	defer client.Kill()

	start := time.Now()
	hm, err := dispense(client)
	dur := time.Since(start)
	if err != nil {
		r := &Report{Checks: []CheckResult{{Name: CheckHandshake, Problems: []Problem{{
			Check: CheckHandshake, Rule: "handshake", Message: explainHandshake(path, err, opts.StartTimeout),
		}}}}}
		for _, name := range []string{CheckSupport, CheckVersion, CheckInventory, CheckCleanSteps, CheckDeploySteps,
			CheckServiceSteps, CheckUnknownMethod, CheckSafeSteps, CheckDeadlines} {
			r.Checks = append(r.Checks, CheckResult{Name: name, Skipped: "the handshake failed"})
		}
		client.Kill()
		r.PluginStderr = stderr.String()
		return r
	}
	r := Inspect(ctx, hm, opts)
	r.Checks = append([]CheckResult{{Name: CheckHandshake}}, r.Checks...)
	r.StartDuration = dur
	client.Kill()
	r.PluginStderr = stderr.String()
	return r
}

// RunBinary launches the plugin executable at path as the host does, runs
// every check as a subtest of t and returns the report.
func RunBinary(t *testing.T, path string, opts Options) *Report {
	t.Helper()
	r := InspectBinary(t.Context(), path, opts)
	r.Subtests(t)
	return r
}

func dispense(client *plugin.Client) (sdk.HardwareManager, error) {
	rpc, err := client.Client()
	if err != nil {
		return nil, err
	}
	raw, err := rpc.Dispense(sdk.PluginName)
	if err != nil {
		return nil, fmt.Errorf("dispense %q: %w", sdk.PluginName, err)
	}
	hm, ok := raw.(sdk.HardwareManager)
	if !ok {
		return nil, fmt.Errorf("dispense %q: got %T, not a hardware manager", sdk.PluginName, raw)
	}
	return hm, nil
}

// explainHandshake turns go-plugin's start error into advice.
func explainHandshake(path string, err error, timeout time.Duration) string {
	msg := err.Error()
	var hint string
	switch {
	case strings.Contains(msg, "Failed to read any lines from plugin's stdout"):
		hint = "the plugin exited before the handshake without printing it: does main call sdk.Serve? (its stderr is logged below)"
	case strings.Contains(msg, "Unrecognized remote plugin message"):
		hint = "the plugin wrote to stdout before sdk.Serve: stdout carries go-plugin's handshake line, so a plugin must print nothing there; log to stderr (sdk.Logger)"
		// go-plugin's notes that follow are about binaries that do not
		// run at all, which is not the case here.
		msg, _, _ = strings.Cut(msg, "\nThis usually means")
	case strings.Contains(msg, "timeout while waiting for plugin to start"):
		hint = fmt.Sprintf("the plugin did not complete go-plugin's handshake within %v: call sdk.Serve first thing in main and initialise in EvaluateHardwareSupport", timeout)
	case strings.Contains(msg, "plugin exited before we could connect"):
		hint = "the plugin exited before the handshake: does main call sdk.Serve? (its stderr is logged below)"
	case strings.Contains(msg, "incompatible API version"):
		hint = fmt.Sprintf("the plugin serves another hardware-manager protocol version: build it with this plugin-sdk (sdk.ProtocolVersion %d)", sdk.ProtocolVersion)
	case strings.Contains(msg, "dispense"), strings.Contains(msg, "unknown plugin type"):
		hint = fmt.Sprintf("the plugin does not serve %q over gRPC: serve it with sdk.Serve", sdk.PluginName)
	default:
		hint = "the host would not use this plugin"
	}
	return fmt.Sprintf("the host could not start %s: %s\ngo-plugin said: %s", path, hint, strings.TrimSpace(msg))
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = t.buf[over:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
