//go:build bench

package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// imageAgent is a real bin/metalagent in --standalone mode whose disk
// allow-list names one device, driven through its REST API.
type imageAgent struct {
	base   string // http://127.0.0.1:PORT
	pid    int
	logf   string // its stderr
	client *http.Client
}

// startImageAgent starts the built agent with the generic plugin, the disk
// allow-list naming only dev, and a 1 s pause before download retries (so
// that the resume after the cut does not wait IPA's 10 s). gomaxprocs, when
// positive, is its GOMAXPROCS. It is stopped when the test ends.
func startImageAgent(t *testing.T, root, dev string, gomaxprocs int) *imageAgent {
	t.Helper()
	dir := t.TempDir()
	cmdline := filepath.Join(dir, "cmdline")
	if err := os.WriteFile(cmdline, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	a := &imageAgent{
		base:   fmt.Sprintf("http://127.0.0.1:%d", port),
		logf:   filepath.Join(dir, "agent.log"),
		client: &http.Client{Timeout: 10 * time.Minute},
	}
	logFile, err := os.Create(a.logf)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(filepath.Join(root, "bin", "metalagent"), "--standalone",
		"--listen-host", "127.0.0.1", "--listen-port", strconv.Itoa(port),
		"--plugin-dir", filepath.Join(root, "bin", "plugins"), "--cmdline-file", cmdline,
		"--allowed-disks", dev, "--disk-wait-attempts", "1",
		"--image-download-connection-retry-interval", "1")
	cmd.Env = os.Environ()
	if gomaxprocs > 0 {
		cmd.Env = append(cmd.Env, "GOMAXPROCS="+strconv.Itoa(gomaxprocs))
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start agent: %v", err)
	}
	a.pid = cmd.Process.Pid
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	waitReady(t, a.base+"/v1/status")
	return a
}

// agentRun is what one prepare_image measured.
type agentRun struct {
	wall    time.Duration // POST to the finished result
	cpu     time.Duration // the agent's user+system time during it
	peakRSS int64         // VmHWM during it, bytes
	engine  float64       // the engine's own rate from its log, MiB/s (0: not found)
}

// prepareImage runs standby.prepare_image for a whole-disk image and
// waits for its result through GET /v1/commands/{id}?wait=true. The
// agent's peak resident memory is reset first (clear_refs 5), so VmHWM is
// the peak of this command.
func (a *imageAgent) prepareImage(t *testing.T, info map[string]any) (agentRun, error) {
	t.Helper()
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", a.pid), []byte("5"), 0); err != nil {
		t.Fatalf("reset the agent's peak RSS: %v", err)
	}
	body, err := json.Marshal(map[string]any{"name": "standby.prepare_image",
		"params": map[string]any{"image_info": info}})
	if err != nil {
		t.Fatal(err)
	}
	logStart := fileSize(a.logf)
	cpu0 := apiProcCPU(t, a.pid)
	start := time.Now()
	resp, err := a.client.Post(a.base+"/v1/commands/?wait=false", "application/json", bytes.NewReader(body))
	if err != nil {
		return agentRun{}, fmt.Errorf("POST prepare_image: %w", err)
	}
	var cmd struct {
		ID     string          `json:"id"`
		Status string          `json:"command_status"`
		Error  json.RawMessage `json:"command_error"`
		Result json.RawMessage `json:"command_result"`
	}
	err = decodeJSON(resp, &cmd)
	if err != nil {
		return agentRun{}, fmt.Errorf("POST prepare_image: %w", err)
	}
	for cmd.Status == "RUNNING" {
		resp, err := a.client.Get(a.base + "/v1/commands/" + cmd.ID + "?wait=true")
		if err != nil {
			return agentRun{}, fmt.Errorf("wait for prepare_image: %w", err)
		}
		if err := decodeJSON(resp, &cmd); err != nil {
			return agentRun{}, fmt.Errorf("wait for prepare_image: %w", err)
		}
	}
	run := agentRun{wall: time.Since(start)}
	run.cpu = apiProcCPU(t, a.pid) - cpu0
	run.peakRSS = procStatusKB(t, a.pid, "VmHWM") << 10
	run.engine = engineRate(a.logf, logStart)
	if cmd.Status != "SUCCEEDED" {
		return run, fmt.Errorf("prepare_image %s: %s (agent log %s)", cmd.Status, cmd.Error, a.logf)
	}
	return run, nil
}

// decodeJSON reads a 200 answer's JSON body into v.
func decodeJSON(resp *http.Response, v any) error {
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d: %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	return json.Unmarshal(b, v)
}

// procStatusKB returns a "kB" field of /proc/PID/status.
func procStatusKB(t *testing.T, pid int, field string) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		v, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			t.Fatalf("/proc/%d/status %s: %v", pid, field, err)
		}
		return v
	}
	t.Fatalf("/proc/%d/status has no %s", pid, field)
	return 0
}

// fileSize is the size of name, 0 when it cannot be read.
func fileSize(name string) int64 {
	fi, err := os.Stat(name)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// engineRate finds the image engine's "image written" line after offset
// from in the agent's log and returns its rate_mib_s (the engine's own
// time: from its call to the final fsync), 0 when there is none.
func engineRate(logf string, from int64) float64 {
	b, err := os.ReadFile(logf)
	if err != nil || int64(len(b)) < from {
		return 0
	}
	for line := range strings.SplitSeq(string(b[from:]), "\n") {
		if !strings.Contains(line, "image written") {
			continue
		}
		for f := range strings.FieldsSeq(line) {
			if v, ok := strings.CutPrefix(f, "rate_mib_s="); ok {
				r, _ := strconv.ParseFloat(v, 64)
				return r
			}
		}
	}
	return 0
}
