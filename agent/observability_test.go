package agent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/metalagent/metalagent/agent/config"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// get answers GET url's status and body, retrying until the server is up.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		resp, err := http.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return resp.StatusCode, string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
	}
}

// TestStandaloneMetricsAndJSONLogs runs a standalone agent with metrics
// and JSON logs on, as the kernel parameters set them, runs a command
// through its API, and reads the metrics and the log lines back.
func TestStandaloneMetricsAndJSONLogs(t *testing.T) {
	apiPort, metricsPort := freePort(t), freePort(t)
	dir := t.TempDir()
	cmdline := filepath.Join(dir, "cmdline")
	const globalID = "req-aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
	kernel := "metalagent-metrics=1 metalagent-metrics-address=127.0.0.1:" + strconv.Itoa(metricsPort) +
		" metalagent-log-format=json ipa-global-request-id=" + globalID
	if err := os.WriteFile(cmdline, []byte(kernel), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("t", []string{"--standalone", "--cmdline-file", cmdline, "--plugin-dir", dir,
		"--listen-host", "127.0.0.1", "--listen-port", strconv.Itoa(apiPort)})
	if err != nil {
		t.Fatal(err)
	}
	out := &LogBuffer{limit: 1 << 20}
	a := New(cfg, out)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	api := "http://127.0.0.1:" + strconv.Itoa(apiPort)
	waitCommands(t, http.DefaultClient, api)
	const reqID = "req-12345678-9abc-4def-8123-456789abcdef"
	req, _ := http.NewRequest(http.MethodPost, api+"/v1/commands/", strings.NewReader(`{"name":"standby.get_partition_uuids","params":{}}`))
	req.Header.Set("X-OpenStack-Request-ID", reqID)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-OpenStack-Request-ID") != reqID {
		t.Fatalf("POST: %d, request id %q", resp.StatusCode, resp.Header.Get("X-OpenStack-Request-ID"))
	}

	status, body := get(t, "http://127.0.0.1:"+strconv.Itoa(metricsPort)+"/metrics")
	if status != http.StatusOK {
		t.Fatalf("GET /metrics: %d", status)
	}
	for _, want := range []string{
		`metalagent_commands_total{command="standby.get_partition_uuids",outcome="success"} 1`,
		`metalagent_plugin_state{plugin="metalagent-builtin",state="running"} 1`,
		`metalagent_plugin_calls_total{method="get_inventory",outcome="success",plugin="metalagent-builtin"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if status, _ := get(t, api+"/metrics"); status != http.StatusNotFound {
		t.Errorf("GET /metrics on the API port: %d, want 404 (metrics have their own address)", status)
	}

	// Every line is JSON and carries the global request id; the command's
	// lines carry its id and the API request's.
	var commandLines int
	sc := bufio.NewScanner(bytes.NewReader(out.Bytes()))
	for sc.Scan() {
		var l map[string]any
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("log line not JSON: %s", sc.Bytes())
		}
		if l["global_request_id"] != globalID {
			t.Errorf("line %q: global_request_id = %v", l["@message"], l["global_request_id"])
		}
		if l["command_id"] != nil {
			commandLines++
			if l["request_id"] != reqID || l["command"] != "standby.get_partition_uuids" {
				t.Errorf("command line %q: request_id %v, command %v", l["@message"], l["request_id"], l["command"])
			}
		}
	}
	if commandLines < 2 {
		t.Errorf("%d command lines, want started and succeeded", commandLines)
	}
}
