//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Paths of Debian's Ironic. Ironic must run on Debian's interpreter:
// another python3 earlier on PATH may lack the ironic modules.
const (
	debianPython = "/usr/bin/python3"
	ironicBin    = "/usr/bin/ironic"
	ironicDBSync = "/usr/bin/ironic-dbsync"
)

// ironicServer is a running single-process Ironic (API and conductor).
type ironicServer struct {
	cfg         ironicConfig
	confPath    string
	logPath     string // oslo.log output
	consolePath string // stdout and stderr (start-up failures, tracebacks)
	proc        *process
}

// loopbackEnv keeps every HTTP client of the children off any proxy.
var loopbackEnv = []string{"no_proxy=127.0.0.1,localhost", "NO_PROXY=127.0.0.1,localhost"}

// startIronic writes a loopback-only configuration under dir, creates the
// database and starts Ironic, retrying with another port if the one it
// picked was taken in the meantime. It returns once the API answers.
func startIronic(ctx context.Context, dir string, inspectorPort int) (*ironicServer, error) {
	var lastErr error
	for attempt := 1; attempt <= 3; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s := &ironicServer{
			confPath:    filepath.Join(dir, "ironic.conf"),
			logPath:     filepath.Join(dir, "ironic.log"),
			consolePath: filepath.Join(dir, "ironic-console.log"),
		}
		s.cfg = ironicConfig{port: port, stateDir: filepath.Join(dir, "ironic-state"), logFile: s.logPath, inspectorPort: inspectorPort}
		if err := s.cfg.write(s.confPath); err != nil {
			return nil, fmt.Errorf("write ironic config: %w", err)
		}
		if attempt == 1 {
			if _, err := runCommand(ctx, debianPython, ironicDBSync, "--config-file", s.confPath, "create_schema"); err != nil {
				return nil, fmt.Errorf("create ironic database: %w", err)
			}
		}
		s.proc, err = startProcess("ironic", s.consolePath, dir, loopbackEnv,
			debianPython, ironicBin, "--config-file", s.confPath)
		if err != nil {
			return nil, err
		}
		logf("ironic started: pid %d, API %s, config %s, log %s", s.proc.pid(), s.cfg.apiURL(), s.confPath, s.logPath)
		err = s.waitForAPI(ctx, 90*time.Second)
		if err == nil {
			return s, nil
		}
		s.proc.stop(10 * time.Second)
		lastErr = err
		if !strings.Contains(tailFile(s.logPath, 200)+tailFile(s.consolePath, 200), "Address already in use") {
			return s, err
		}
		logf("port %d was taken, retrying with another one", port)
	}
	return nil, lastErr
}

// waitForAPI polls GET / until Ironic answers with its version document.
func (s *ironicServer) waitForAPI(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 3 * time.Second}
	for {
		if s.proc.exited() {
			return fmt.Errorf("ironic %w before its API answered (%s)", errProcessExited, s.proc.exitStatus())
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.cfg.apiURL()+"/", nil)
		resp, err := client.Do(req)
		if err == nil {
			var doc struct {
				DefaultVersion struct {
					Version string `json:"version"`
				} `json:"default_version"`
			}
			derr := json.NewDecoder(resp.Body).Decode(&doc)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && derr == nil {
				logf("ironic API up, maximum microversion %s", doc.DefaultVersion.Version)
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ironic API at %s did not answer within %s (last error: %v)", s.cfg.apiURL(), timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// stop ends Ironic by PID (SIGTERM, then SIGKILL to its group).
func (s *ironicServer) stop() {
	if s == nil || s.proc == nil {
		return
	}
	s.proc.stop(15 * time.Second)
	logf("ironic stopped: %s", s.proc.exitStatus())
}

// diagnostics returns the interesting end of Ironic's log: recent
// warnings and errors, then the last lines.
func (s *ironicServer) diagnostics() string {
	if s == nil {
		return "(ironic was not started)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "--- ironic process: %s; log %s\n", s.proc.exitStatus(), s.logPath)
	fmt.Fprintf(&b, "--- last 20 lines of ironic's stdout/stderr (%s):\n%s\n", s.consolePath, tailFile(s.consolePath, 20))
	fmt.Fprintf(&b, "--- last warnings and errors of the ironic log:\n%s\n", logRecords(s.logPath, 40, isProblem))
	fmt.Fprintf(&b, "--- last 60 non-debug lines of the ironic log (without the rig's node polling):\n%s\n",
		logRecords(s.logPath, 60, isInteresting))
	return b.String()
}

// logRecords returns the last n records of an oslo.log file ("DATE TIME
// PID LEVEL logger ...", with their continuation lines) for which keep
// returns true.
func logRecords(path string, n int, keep func(level, line string) bool) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	var hits []string
	in := false
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 4 && len(f[0]) == 10 && f[0][4] == '-' {
			in = keep(f[3], line)
		}
		if in && line != "" {
			hits = append(hits, line)
		}
	}
	if len(hits) > n {
		hits = hits[len(hits)-n:]
	}
	return strings.Join(hits, "\n")
}

// isProblem keeps warnings and errors.
func isProblem(level, _ string) bool {
	return level == "WARNING" || level == "ERROR" || level == "CRITICAL"
}

// isInteresting keeps non-debug records except the rig's own polling of
// the node.
func isInteresting(level, line string) bool {
	return level != "DEBUG" && !strings.Contains(line, `"GET /v1/nodes/`)
}

// deployLogs lists the files the conductor stored from log.collect_system_logs.
func (s *ironicServer) deployLogs() []string {
	entries, _ := os.ReadDir(s.cfg.deployLogsDir())
	var names []string
	for _, e := range entries {
		names = append(names, filepath.Join(s.cfg.deployLogsDir(), e.Name()))
	}
	return names
}
