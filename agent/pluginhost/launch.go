package pluginhost

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// instance is one running process of a plugin.
type instance struct {
	hm       sdk.HardwareManager
	client   *plugin.Client
	cmd      *exec.Cmd
	protocol int
	level    sdk.SupportLevel
	version  sdk.Version
}

// pid returns the plugin's process id, or 0.
func (i *instance) pid() int {
	if i.cmd.Process == nil || i.client.Exited() {
		return 0
	}
	return i.cmd.Process.Pid
}

// kill stops the process. hard sends SIGKILL first: a hung plugin may not
// answer go-plugin's shutdown call. go-plugin's Kill then cleans up.
func (i *instance) kill(hard bool) {
	if hard && i.cmd.Process != nil && !i.client.Exited() {
		_ = i.cmd.Process.Kill()
	}
	i.client.Kill()
}

// refusal is an error for which the host would not run a plugin, as
// opposed to a plugin that tried and failed.
type refusal struct {
	err error
	// kv are extra structured-log fields.
	kv []any
}

func (r *refusal) Error() string { return r.err.Error() }
func (r *refusal) Unwrap() error { return r.err }

// offeredVersion finds the plugin's version in go-plugin's "incompatible
// API version" error, the only place go-plugin exposes it.
var offeredVersion = regexp.MustCompile(`Plugin version: (\d+)`)

// startInstance launches c's executable (checking its sha256 first when
// the manifest gives one), dispenses its manager and evaluates its support.
// A manager at SupportNone is returned running; the caller stops it. The
// verdict is the checksum verdict after the attempt.
func (h *Host) startInstance(ctx context.Context, c *candidate) (*instance, Checksum, error) {
	cmd := exec.Command(c.path)
	// The plugin dies with the agent, even when the agent is SIGKILLed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	versions := make(map[int]plugin.PluginSet, len(h.opts.Protocols))
	for _, v := range h.opts.Protocols {
		// Every version this host speaks maps to its client for that
		// version; today that is v1 only.
		versions[v] = plugin.PluginSet{sdk.PluginName: &sdk.GRPCPlugin{}}
	}
	if h.opts.GOMAXPROCS > 0 {
		cmd.Env = append(cmd.Env, fmt.Sprintf("GOMAXPROCS=%d", h.opts.GOMAXPROCS))
	}
	tlsConfig, closeTLS, err := h.launchTLS(cmd)
	if err != nil {
		return nil, c.verdict, fmt.Errorf("plugin %s (%s): %w", c.name, c.path, err)
	}
	defer closeTLS()
	cfg := &plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		VersionedPlugins: versions,
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		TLSConfig:        tlsConfig,
		// Fixed flow-control windows turn off gRPC's bandwidth probing,
		// whose pings add a round trip to small calls.
		GRPCDialOptions: []grpc.DialOption{
			grpc.WithInitialWindowSize(windowSize),
			grpc.WithInitialConnWindowSize(windowSize),
		},
		StartTimeout: h.opts.StartTimeout,
		// go-plugin names the logger after the executable itself.
		Logger: h.log,
	}
	verdict := c.verdict
	if c.sha256 != nil {
		cfg.SecureConfig = &plugin.SecureConfig{Checksum: c.sha256, Hash: sha256.New()}
		verdict = ChecksumVerified
	}
	client := plugin.NewClient(cfg)
	inst := &instance{client: client, cmd: cmd}
	rpc, err := client.Client()
	if err != nil {
		exited := exitedSoon(client, err)
		client.Kill()
		return nil, h.startVerdict(verdict, err), h.startError(c, err, exited)
	}
	inst.protocol = client.NegotiatedVersion()
	raw, err := rpc.Dispense(sdk.PluginName)
	if err != nil {
		client.Kill()
		return nil, verdict, fmt.Errorf("plugin %s (%s): dispense %s: %w", c.name, c.path, sdk.PluginName, err)
	}
	hm, ok := raw.(sdk.HardwareManager)
	if !ok {
		client.Kill()
		return nil, verdict, fmt.Errorf("plugin %s (%s): served %T, not a hardware manager", c.name, c.path, raw)
	}
	inst.hm = hm
	if c.protocol != 0 && c.protocol != inst.protocol {
		h.log.Warn("plugin negotiated another protocol version than its manifest gives", "plugin", c.name,
			"manifest", c.protocol, "negotiated", inst.protocol)
	}
	inst.level, inst.version, err = h.evaluate(ctx, c.name, hm)
	if err != nil {
		inst.kill(true)
		return nil, verdict, err
	}
	return inst, verdict, nil
}

// startVerdict is the checksum verdict after a failed start.
func (h *Host) startVerdict(verdict Checksum, err error) Checksum {
	switch {
	case verdict != ChecksumVerified:
		return verdict
	case errors.Is(err, plugin.ErrChecksumsDoNotMatch):
		return ChecksumMismatch
	case strings.HasPrefix(err.Error(), "error verifying checksum"):
		return ChecksumUnchecked
	}
	return verdict
}

// noHandshake is in go-plugin's error when the plugin's stdout closed
// before any handshake line.
const noHandshake = "Failed to read any lines from plugin's stdout"

// exitedSoon reports whether a plugin whose start failed with err has
// exited (go-plugin notices the exit a moment after its stdout closes).
func exitedSoon(client *plugin.Client, err error) bool {
	if !strings.Contains(err.Error(), noHandshake) {
		return client.Exited()
	}
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if client.Exited() {
			return true
		}
	}
	return false
}

// startError explains why go-plugin could not start c, naming the file.
// go-plugin's long diagnostics are cut to their first line.
func (h *Host) startError(c *candidate, err error, exited bool) error {
	if errors.Is(err, plugin.ErrChecksumsDoNotMatch) {
		actual, herr := FileSHA256(c.path)
		if herr != nil {
			actual = "unknown (" + herr.Error() + ")"
		}
		return &refusal{err: fmt.Errorf("plugin %s: %s has sha256 %s, the manifest expects %s: not run",
			c.name, c.path, actual, hex.EncodeToString(c.sha256))}
	}
	if m := offeredVersion.FindStringSubmatch(err.Error()); m != nil && strings.Contains(err.Error(), "incompatible API version") {
		return &refusal{
			err: fmt.Errorf("plugin %s (%s) offers protocol version %s; this host supports %v", c.name, c.path, m[1], h.opts.Protocols),
			kv:  []any{"offered", m[1], "host_supports", fmt.Sprint(h.opts.Protocols)},
		}
	}
	first, _, _ := strings.Cut(err.Error(), "\n")
	switch {
	case exited:
		return fmt.Errorf("start plugin %s (%s): the process exited before its handshake", c.name, c.path)
	case strings.Contains(err.Error(), noHandshake):
		return fmt.Errorf("start plugin %s (%s): no handshake on its stdout (is it a metalagent plugin built with plugin-sdk?)", c.name, c.path)
	case strings.HasPrefix(first, "Unrecognized remote plugin message"):
		return fmt.Errorf("start plugin %s (%s): %s (a plugin must write nothing to stdout before sdk.Serve)", c.name, c.path, first)
	}
	return fmt.Errorf("start plugin %s (%s): %s (is it a metalagent plugin built with plugin-sdk?)", c.name, c.path, first)
}

// evaluate asks a manager for its support level and, unless it is
// SupportNone, its version, within the call timeout.
func (h *Host) evaluate(ctx context.Context, name string, hm sdk.HardwareManager) (sdk.SupportLevel, sdk.Version, error) {
	cctx, cancel := context.WithTimeout(ctx, h.opts.CallTimeout)
	defer cancel()
	level, err := hm.EvaluateHardwareSupport(cctx, h.opts.Config)
	if err != nil {
		return sdk.SupportNone, sdk.Version{}, fmt.Errorf("%s: evaluate hardware support: %w", name, err)
	}
	if level <= sdk.SupportNone {
		return level, sdk.Version{}, nil
	}
	v, err := hm.Version(cctx)
	if err != nil {
		return level, sdk.Version{}, fmt.Errorf("%s: version: %w", name, err)
	}
	return level, v, nil
}

// stopGrace is how long a plugin may take to exit when the host closes
// before it is killed.
const stopGrace = 3 * time.Second

// stop asks the plugin to exit, as go-plugin does, and kills it if it has
// not within stopGrace (go-plugin's shutdown call waits for a wedged
// process forever).
func (i *instance) stop() {
	done := make(chan struct{})
	go func() {
		i.client.Kill()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(stopGrace):
		if i.cmd.Process != nil {
			_ = i.cmd.Process.Kill()
		}
		<-done
	}
}

// windowSize is the gRPC flow-control window towards plugins.
const windowSize = 4 << 20

// launchTLS prepares mutual TLS for one launch (see plugin-sdk/mtls.go):
// the host's client certificate goes to the plugin in PLUGIN_CLIENT_CERT, a
// fresh P-256 server key pair through an inherited pipe, and the returned
// client configuration trusts exactly that server certificate. A plugin
// speaking go-plugin's own AutoMTLS instead sends its certificate in the
// handshake, which go-plugin then trusts in place of ours. The returned
// function closes the host's end of the pipe once the plugin has started.
func (h *Host) launchTLS(cmd *exec.Cmd) (*tls.Config, func(), error) {
	h.tlsOnce.Do(func() {
		h.clientPair, h.tlsErr = sdk.NewTLSKeyPair()
		if h.tlsErr == nil {
			h.clientCert, h.tlsErr = tls.X509KeyPair(h.clientPair.CertPEM, h.clientPair.KeyPEM)
		}
	})
	if h.tlsErr != nil {
		return nil, nil, fmt.Errorf("host TLS certificate: %w", h.tlsErr)
	}
	server, err := sdk.NewTLSKeyPair()
	if err != nil {
		return nil, nil, fmt.Errorf("plugin TLS certificate: %w", err)
	}
	payload, err := json.Marshal(server)
	if err != nil {
		return nil, nil, fmt.Errorf("plugin TLS certificate: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, nil, fmt.Errorf("pipe for the plugin's TLS key: %w", err)
	}
	// A few hundred bytes fit the pipe's buffer: write all, close, and the
	// plugin reads to end of file.
	_, werr := w.Write(payload)
	if cerr := w.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		r.Close()
		return nil, nil, fmt.Errorf("pipe for the plugin's TLS key: %w", werr)
	}
	cmd.ExtraFiles = append(cmd.ExtraFiles, r)
	fd := 2 + len(cmd.ExtraFiles)
	cmd.Env = append(cmd.Env,
		"PLUGIN_CLIENT_CERT="+string(h.clientPair.CertPEM),
		fmt.Sprintf("%s=%d", sdk.EnvTLSFD, fd))
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(server.CertPEM) {
		r.Close()
		return nil, nil, errors.New("plugin TLS certificate: cannot parse the certificate just made")
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{h.clientCert},
		RootCAs:      roots,
		ServerName:   "localhost",
		MinVersion:   tls.VersionTLS12,
	}
	return cfg, func() { r.Close() }, nil
}
