//go:build e2e

package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// agentStopGrace is how long a stopped agent gets between SIGTERM and SIGKILL.
const agentStopGrace = 5 * time.Second

// agentBinaries are the built agent and its plugin directory.
type agentBinaries struct {
	agent     string // <repo>/bin/metalagent
	pluginDir string // <repo>/bin/plugins
}

// findRepoRoot walks up from the working directory to the directory whose
// go.mod declares the metalagent module.
func findRepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(data), "module github.com/metalagent/metalagent") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod of github.com/metalagent/metalagent above the working directory")
		}
		dir = parent
	}
}

// agentBinEnv names an agent executable to use instead of bin/metalagent
// (for example one built elsewhere); it must accept the same flags.
const agentBinEnv = "METALAGENT_E2E_AGENT_BIN"

// findAgentBinaries locates bin/metalagent and bin/plugins under the
// repository root and checks that they exist.
func findAgentBinaries(root string) (agentBinaries, error) {
	b := agentBinaries{
		agent:     filepath.Join(root, "bin", "metalagent"),
		pluginDir: filepath.Join(root, "bin", "plugins"),
	}
	override := os.Getenv(agentBinEnv)
	if override != "" {
		// Absolute: the agent runs in its boot directory.
		abs, err := filepath.Abs(override)
		if err != nil {
			return b, fmt.Errorf("%s=%s: %w", agentBinEnv, override, err)
		}
		b.agent = abs
	}
	st, err := os.Stat(b.agent)
	if err != nil {
		return b, fmt.Errorf("agent binary %s missing (run `make build` in %s first): %w", b.agent, root, err)
	}
	if st.Mode()&0o111 == 0 {
		return b, fmt.Errorf("agent binary %s is not executable", b.agent)
	}
	if override != "" {
		return b, nil // plugins are the override's business
	}
	if st, err := os.Stat(b.pluginDir); err != nil || !st.IsDir() {
		return b, fmt.Errorf("plugin directory %s missing (run `make build` in %s first)", b.pluginDir, root)
	}
	return b, nil
}

// agentBoot is one simulated boot of the node into the agent ramdisk: a
// fresh agent process, with its own port and log, that lives until the
// node is powered off or leaves the states of this boot.
type agentBoot struct {
	name    string
	port    int
	logPath string
	tlsDir  string // where auto-TLS writes agent.crt
	proc    *process
	started time.Time

	stayIn []string // provision states in which the node still runs this boot
	holdIn []string // states in which the phase, not power, ends the boot

	mu         sync.Mutex
	poweredOff string // why the rig "powered off" the node, once it did
	stopOnce   sync.Once
	watchDone  chan struct{}
	quit       chan struct{}
}

// agentLaunch is what a boot needs to know about the rig.
type agentLaunch struct {
	bins       agentBinaries
	apiURL     string
	disk       string // the only disk the agent may touch
	mac        string // the node's port MAC, for BOOTIF
	workDir    string
	tracker    *nodeTracker
	bootNumber int
	extraArgs  []string // more agent arguments, for this boot only
}

// kernelCmdline is the simulated kernel command line of a boot.
//
// ipa-disk-wait-attempts=1: before lookup the agent waits, as IPA does,
// for a disk that IPA's default rule would install on (at least 4 GiB);
// the rig's 1 GiB loop disk never is one (deployments find it by a root
// device hint), so IPA's default of 10 attempts 3 s apart would only add
// 27 s to every boot.
func kernelCmdline(mac string) string {
	return fmt.Sprintf("BOOTIF=01-%s ipa-debug=1 ipa-disk-wait-attempts=1\n", strings.ReplaceAll(strings.ToLower(mac), ":", "-"))
}

// bootAgent starts a fresh agent for a boot named name, in its own mount
// namespace with a canary pstore (see boot_namespace_test.go), and a goroutine
// that "powers the node off" (stops the agent) once the node's power
// state turns off or its provision state leaves stayIn. In a state of
// holdIn the goroutine leaves the agent alone whatever the power state:
// the phase inspects the agent there and then calls powerOff itself.
func bootAgent(l agentLaunch, name string, stayIn, holdIn []string) (*agentBoot, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	bootDir := filepath.Join(l.workDir, fmt.Sprintf("boot-%02d-%s", l.bootNumber, name))
	if err := os.MkdirAll(filepath.Join(bootDir, "tmp"), 0o755); err != nil {
		return nil, err
	}
	cmdline := filepath.Join(bootDir, "cmdline")
	if err := os.WriteFile(cmdline, []byte(kernelCmdline(l.mac)), 0o644); err != nil {
		return nil, err
	}
	b := &agentBoot{
		name:      name,
		port:      port,
		logPath:   filepath.Join(bootDir, "agent.log"),
		tlsDir:    filepath.Join(bootDir, "tls"),
		stayIn:    stayIn,
		holdIn:    holdIn,
		watchDone: make(chan struct{}),
		quit:      make(chan struct{}),
	}
	argv := []string{
		l.bins.agent,
		"--api-url", l.apiURL,
		"--listen-host", "127.0.0.1",
		"--listen-port", fmt.Sprint(port),
		"--advertise-host", "127.0.0.1",
		"--advertise-port", fmt.Sprint(port),
		"--plugin-dir", l.bins.pluginDir,
		"--require-plugin-manifest",
		"--allowed-disks", l.disk,
		"--ignore-bootloader-failure",
		"--simulate-power",
		"--cmdline-file", cmdline,
		// Auto-TLS is on (IPA's default, Ironic 21.4 takes agent_verify_ca):
		// the rig reads the API with the certificate the agent writes here.
		"--tls-dir", b.tlsDir,
	}
	argv = append(argv, l.extraArgs...)
	env := append([]string{"TMPDIR=" + filepath.Join(bootDir, "tmp")}, loopbackEnv...)
	b.proc, err = startProcess("agent "+name, b.logPath, bootDir, env, inBootNamespace(argv)...)
	if err != nil {
		return nil, err
	}
	b.started = time.Now()
	// The PID must be the agent's (signals, power-off, /proc/PID/root),
	// and its namespace must hold the canary pstore.
	if err := waitForExec(b.proc, l.bins.agent, 5*time.Second); err != nil {
		b.proc.stop(agentStopGrace)
		return nil, fmt.Errorf("agent boot %q: %w\n%s", name, err, tailFile(b.logPath, 20))
	}
	if err := checkPstoreCanaries(b.proc.pid()); err != nil {
		b.proc.stop(agentStopGrace)
		return nil, fmt.Errorf("agent boot %q: private pstore: %w", name, err)
	}
	logf("agent boot %q started: pid %d (private mount namespace, %d pstore canaries), port %d, log %s",
		name, b.proc.pid(), len(pstoreCanaries), port, b.logPath)
	go b.watch(l.tracker)
	return b, nil
}

// watch implements the simulated power button: it stops the agent when
// the node is powered off or leaves the boot's states.
func (b *agentBoot) watch(tr *nodeTracker) {
	defer close(b.watchDone)
	tick := time.NewTicker(trackerInterval)
	defer tick.Stop()
	for {
		select {
		case <-b.quit:
			return
		case <-b.proc.done:
			logf("agent boot %q: process ended by itself (%s)", b.name, b.proc.exitStatus())
			return
		case <-tick.C:
		}
		n, _ := tr.latest()
		if n == nil {
			continue
		}
		var why string
		switch {
		case slices.Contains(b.holdIn, n.ProvisionState):
			// held for the phase's inspection
		case str(n.PowerState) == powerOff:
			why = "node powered off"
		case !slices.Contains(b.stayIn, n.ProvisionState):
			why = fmt.Sprintf("node left %v for %q", b.stayIn, n.ProvisionState)
		}
		if why != "" {
			b.mu.Lock()
			b.poweredOff = why
			b.mu.Unlock()
			logf("agent boot %q: %s: powering off (stopping pid %d)", b.name, why, b.proc.pid())
			b.proc.stop(agentStopGrace)
			logf("agent boot %q: %s", b.name, b.proc.exitStatus())
			return
		}
	}
}

// powerOff is the phase's own power button for a held boot: it records
// why and stops the agent.
func (b *agentBoot) powerOff(why string) {
	b.mu.Lock()
	b.poweredOff = why
	b.mu.Unlock()
	logf("agent boot %q: %s: powering off (stopping pid %d)", b.name, why, b.proc.pid())
	b.shutdown()
	logf("agent boot %q: %s", b.name, b.proc.exitStatus())
}

// apiClient returns a client for the boot's agent API: over HTTPS,
// trusting only the boot's auto-TLS certificate, once the agent has
// written it, else plain HTTP (before lookup, or without auto-TLS).
func (b *agentBoot) apiClient() (*http.Client, string, error) {
	pem, err := os.ReadFile(filepath.Join(b.tlsDir, "agent.crt"))
	if errors.Is(err, fs.ErrNotExist) {
		return http.DefaultClient, "http", nil
	}
	if err != nil {
		return nil, "", err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, "", fmt.Errorf("%s/agent.crt holds no certificate", b.tlsDir)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	return &http.Client{Transport: tr}, "https", nil
}

// getJSON sends GET path to the boot's agent API (no token: IPA's
// read-only endpoints need none) and decodes the JSON answer into out.
func (b *agentBoot) getJSON(ctx context.Context, path string, out any) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	client, scheme, err := b.apiClient()
	if err != nil {
		return err
	}
	u := fmt.Sprintf("%s://127.0.0.1:%d%s", scheme, b.port, path)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("GET %s: read answer: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d: %s", u, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("GET %s: decode %q: %w", u, firstLine(string(body), 200), err)
	}
	return nil
}

// shutdown stops the watcher and the agent if either still runs.
func (b *agentBoot) shutdown() {
	b.stopOnce.Do(func() { close(b.quit) })
	<-b.watchDone
	if !b.proc.exited() {
		b.proc.stop(agentStopGrace)
	}
}

// unexpectedExit returns an error if the agent ended on its own with a
// non-zero status (an exit 0 is allowed: with --simulate-power the agent
// exits after standby.power_off).
func (b *agentBoot) unexpectedExit() error {
	if !b.proc.exited() || b.proc.wasStopped() || b.proc.exitedCleanly() {
		return nil
	}
	return fmt.Errorf("agent boot %q died: %s (log %s)", b.name, b.proc.exitStatus(), b.logPath)
}

// diagnostics describes the boot and the end of its log.
func (b *agentBoot) diagnostics() string {
	b.mu.Lock()
	why := b.poweredOff
	b.mu.Unlock()
	return fmt.Sprintf("--- agent boot %q (pid %d, port %d): %s; power-off: %s\n--- last 80 lines of %s:\n%s\n",
		b.name, b.proc.pid(), b.port, b.proc.exitStatus(), orNone(why), b.logPath, tailFile(b.logPath, 80))
}
