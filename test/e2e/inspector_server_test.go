//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Paths of Debian's ironic-inspector (package ironic-inspector, 11.1).
const (
	inspectorBin    = "/usr/bin/ironic-inspector"
	inspectorDBSync = "/usr/bin/ironic-inspector-dbsync"
)

// inspectorConfig holds what differs between runs of the loopback
// ironic-inspector; everything else is fixed by sections.
type inspectorConfig struct {
	port      int    // API port on 127.0.0.1
	ironicURL string // the rig's Ironic
	stateDir  string // database, locks, stored ramdisk logs
	logFile   string
}

// url is the inspector's API root.
func (c inspectorConfig) url() string { return fmt.Sprintf("http://127.0.0.1:%d", c.port) }

// callbackURL is what the agent posts its data to (ipa-inspection-callback-url).
func (c inspectorConfig) callbackURL() string { return c.url() + "/v1/continue" }

// ramdiskLogsDir is where the inspector stores the logs the agent sends.
func (c inspectorConfig) ramdiskLogsDir() string { return filepath.Join(c.stateDir, "ramdisk-logs") }

// sections returns the inspector's configuration (see
// ironic-on-loopback.md): standalone (API and conductor in one process),
// no Keystone, no message bus, SQLite, no PXE filter, data stored in the
// database, and no power-off at the end so that the rig stops the agent.
func (c inspectorConfig) sections() []iniSection {
	return []iniSection{
		{"DEFAULT", [][2]string{
			{"debug", "true"},
			{"log_file", c.logFile},
			{"use_stderr", "false"},
			{"auth_strategy", "noauth"},
			{"standalone", "true"},
			{"transport_url", "fake://"},
			{"listen_address", "127.0.0.1"},
			{"listen_port", fmt.Sprint(c.port)},
			{"host", "metalagent-e2e-inspector"},
			// The delay between two introspections with managed boot.
			{"introspection_delay", "0"},
		}},
		{"database", [][2]string{
			{"connection", "sqlite:///" + filepath.Join(c.stateDir, "inspector.sqlite")},
		}},
		{"ironic", [][2]string{
			{"auth_type", "none"},
			{"endpoint_override", c.ironicURL},
		}},
		{"processing", [][2]string{
			{"store_data", "database"},
			// Ports: create one for the PXE MAC if missing, delete none.
			{"add_ports", "pxe"},
			{"keep_ports", "all"},
			{"power_off", "false"},
			// local_gb is then the root disk's size in GiB, not one less:
			// the rig's node disk has 1 GiB.
			{"disk_partitioning_spacing", "false"},
			// Keep what the agent's logs collector sent, also on success.
			{"always_store_ramdisk_logs", "true"},
			{"ramdisk_logs_dir", c.ramdiskLogsDir()},
		}},
		{"pxe_filter", [][2]string{
			{"driver", "noop"},
		}},
		{"oslo_concurrency", [][2]string{
			{"lock_path", filepath.Join(c.stateDir, "locks")},
		}},
	}
}

// inspectorServer is a running standalone ironic-inspector.
type inspectorServer struct {
	cfg         inspectorConfig
	confPath    string
	logPath     string
	consolePath string
	proc        *process
	http        *http.Client
}

// startInspector writes the configuration, creates the database and
// starts ironic-inspector on port, returning once its API answers.
func startInspector(ctx context.Context, dir string, port int, ironicURL string) (*inspectorServer, error) {
	s := &inspectorServer{
		confPath:    filepath.Join(dir, "inspector.conf"),
		logPath:     filepath.Join(dir, "inspector.log"),
		consolePath: filepath.Join(dir, "inspector-console.log"),
		http:        &http.Client{Timeout: 10 * time.Second},
	}
	s.cfg = inspectorConfig{port: port, ironicURL: ironicURL, stateDir: filepath.Join(dir, "inspector-state"), logFile: s.logPath}
	for _, d := range []string{"locks", "ramdisk-logs"} {
		if err := os.MkdirAll(filepath.Join(s.cfg.stateDir, d), 0o755); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(s.confPath, []byte(renderINI(s.cfg.sections())), 0o644); err != nil {
		return nil, fmt.Errorf("write inspector config: %w", err)
	}
	if _, err := runCommand(ctx, debianPython, inspectorDBSync, "--config-file", s.confPath, "upgrade"); err != nil {
		return nil, fmt.Errorf("create inspector database: %w", err)
	}
	var err error
	s.proc, err = startProcess("ironic-inspector", s.consolePath, dir, loopbackEnv, debianPython, inspectorBin, "--config-file", s.confPath)
	if err != nil {
		return nil, err
	}
	logf("ironic-inspector started: pid %d, API %s, config %s, log %s", s.proc.pid(), s.cfg.url(), s.confPath, s.logPath)
	return s, s.waitForAPI(ctx, 90*time.Second)
}

// waitForAPI polls GET / until the inspector answers with its versions.
func (s *inspectorServer) waitForAPI(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if s.proc.exited() {
			return fmt.Errorf("ironic-inspector %w before its API answered (%s)", errProcessExited, s.proc.exitStatus())
		}
		var root struct {
			Versions []struct {
				ID string `json:"id"`
			} `json:"versions"`
		}
		err := s.get(ctx, "/", &root)
		if err == nil && len(root.Versions) > 0 {
			logf("ironic-inspector API up (%s)", root.Versions[0].ID)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ironic-inspector at %s did not answer within %s (last error: %v)", s.cfg.url(), timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// get sends GET path and decodes the JSON answer into out.
func (s *inspectorServer) get(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.cfg.url()+path, nil)
	if err != nil {
		return err
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("GET %s: read answer: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d: %s", path, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return json.Unmarshal(body, out)
}

// introspectionStatus is the inspector's GET /v1/introspection/<node>.
type introspectionStatus struct {
	State    string  `json:"state"`
	Finished bool    `json:"finished"`
	Error    *string `json:"error"`
}

// status returns the node's introspection status.
func (s *inspectorServer) status(ctx context.Context, nodeUUID string) (*introspectionStatus, error) {
	st := &introspectionStatus{}
	return st, s.get(ctx, "/v1/introspection/"+nodeUUID, st)
}

// waitForState polls the node's introspection status until it has state
// want; an error state ends the wait early.
func (s *inspectorServer) waitForState(ctx context.Context, nodeUUID, want string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		st, err := s.status(ctx, nodeUUID)
		if err == nil && st.State == want {
			logf("ironic-inspector: introspection of %s is %q", nodeUUID, st.State)
			return nil
		}
		if err == nil && st.State == "error" {
			return fmt.Errorf("introspection failed in ironic-inspector: %s", str(st.Error))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("introspection of %s not %q within %s (status %+v, error %v)", nodeUUID, want, timeout, st, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// data returns the processed introspection data the inspector stored.
func (s *inspectorServer) data(ctx context.Context, nodeUUID string) (map[string]any, error) {
	var d map[string]any
	return d, s.get(ctx, "/v1/introspection/"+nodeUUID+"/data", &d)
}

// ramdiskLogs lists the log archives the inspector stored.
func (s *inspectorServer) ramdiskLogs() []string {
	entries, _ := os.ReadDir(s.cfg.ramdiskLogsDir())
	var out []string
	for _, e := range entries {
		out = append(out, filepath.Join(s.cfg.ramdiskLogsDir(), e.Name()))
	}
	return out
}

// stop ends the inspector by PID.
func (s *inspectorServer) stop() {
	if s == nil || s.proc == nil {
		return
	}
	s.proc.stop(15 * time.Second)
	logf("ironic-inspector stopped: %s", s.proc.exitStatus())
}

// diagnostics returns the end of the inspector's logs.
func (s *inspectorServer) diagnostics() string {
	if s == nil || s.proc == nil {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "--- ironic-inspector process: %s; log %s\n", s.proc.exitStatus(), s.logPath)
	fmt.Fprintf(&b, "--- last 20 lines of ironic-inspector's stdout/stderr:\n%s\n", tailFile(s.consolePath, 20))
	fmt.Fprintf(&b, "--- last warnings and errors of the ironic-inspector log:\n%s\n", logRecords(s.logPath, 30, isProblem))
	fmt.Fprintf(&b, "--- last 40 non-debug lines of the ironic-inspector log:\n%s\n", logRecords(s.logPath, 40, isInteresting))
	return b.String()
}
