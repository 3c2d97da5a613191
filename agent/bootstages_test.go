package agent

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/metalagent/metalagent/agent/config"
	"github.com/metalagent/metalagent/agent/ipa"
	"github.com/metalagent/metalagent/agent/pluginhost"
	"github.com/metalagent/metalagent/agent/stages"
	"github.com/metalagent/metalagent/agent/tlsconf"
	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// statusBody is GET /v1/status as the agent answers it.
type statusBody struct {
	StartedAt  float64       `json:"started_at"`
	Version    string        `json:"version"`
	Metalagent stages.Report `json:"metalagent"`
}

// stage returns the named stage of the report.
func (s statusBody) stage(name string) stages.Stage {
	for _, st := range s.Metalagent.Stages {
		if st.Name == name {
			return st
		}
	}
	return stages.Stage{}
}

// fetchStatus GETs base/v1/status with client; ok is false until the API
// answers.
func fetchStatus(client *http.Client, base string) (statusBody, bool) {
	var s statusBody
	resp, err := client.Get(base + "/v1/status")
	if err != nil {
		return s, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&s) != nil {
		return s, false
	}
	return s, true
}

// waitStatus polls base's status until cond holds (20 s at most) and
// returns it.
func waitStatus(t *testing.T, client *http.Client, base string, what string, cond func(statusBody) bool) statusBody {
	t.Helper()
	var last statusBody
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if s, ok := fetchStatus(client, base); ok {
			last = s
			if cond(s) {
				return s
			}
		}
	}
	t.Fatalf("%s: not in 20 s; last status %+v", what, last)
	return last
}

// waitCommands waits until the API at base takes commands: its stage
// "API serving" is done.
func waitCommands(t *testing.T, client *http.Client, base string) {
	t.Helper()
	waitStatus(t, client, base, "API serving commands", func(s statusBody) bool {
		return s.stage(stages.API).State == stages.Done
	})
}

// gatedIronic is an Ironic whose lookup answers 404 until released, then
// hands out testToken; heartbeats are recorded.
type gatedIronic struct {
	version string
	// extraConfig is added to the lookup's config (`,"key":value...`).
	extraConfig string
	released    atomic.Bool
	lookups     atomic.Int32
	mu          sync.Mutex
	heartbeats  []map[string]any
	versions    []string
}

func (f *gatedIronic) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/":
		fmt.Fprintf(w, `{"default_version":{"id":"v1","version":%q}}`, f.version)
	case r.URL.Path == "/v1/lookup":
		f.lookups.Add(1)
		if !f.released.Load() {
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error_message":"{\"faultstring\": \"Resource could not be found.\", \"faultcode\": \"Client\", \"debuginfo\": null}"}`))
			return
		}
		fmt.Fprintf(w, `{"node":{"uuid":"n-1","properties":{}},"config":{"heartbeat_timeout":300,"agent_token":%q,"agent_token_required":true%s}}`,
			testToken, f.extraConfig)
	case r.URL.Path == "/v1/heartbeat/n-1":
		var body map[string]any
		json.NewDecoder(r.Body).Decode(&body)
		f.mu.Lock()
		f.heartbeats = append(f.heartbeats, body)
		f.versions = append(f.versions, r.Header.Get("X-OpenStack-Ironic-API-Version"))
		f.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

// firstHeartbeat returns the first heartbeat's body and version header.
func (f *gatedIronic) firstHeartbeat() (map[string]any, string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.heartbeats) == 0 {
		return nil, "", false
	}
	return f.heartbeats[0], f.versions[0], true
}

// noDiskManager is nicManager on a machine without a disk to install on.
type noDiskManager struct{ nicManager }

func (noDiskManager) Execute(_ context.Context, req sdk.ExecuteRequest) (json.RawMessage, error) {
	if req.Method != sdk.MethodGetOSInstallDevice {
		return nil, sdk.NotSupported("no %s", req.Method)
	}
	return nil, sdk.HardwareError("DeviceNotFound", "No suitable device was found for deployment")
}

// startAgent runs an agent with mgr and args until the test ends; it
// returns the API's host:port and the agent's log. done receives Run's
// error.
func startAgent(t *testing.T, mgr sdk.HardwareManager, args ...string) (string, *lockedBuffer, chan error) {
	t.Helper()
	port := freePort(t)
	dir := t.TempDir()
	cmdline := filepath.Join(dir, "cmdline")
	if err := os.WriteFile(cmdline, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	all := append([]string{"--cmdline-file", cmdline, "--listen-host", "127.0.0.1", "--listen-port", fmt.Sprint(port),
		"--advertise-host", "127.0.0.1", "--advertise-port", fmt.Sprint(port), "--plugin-dir", filepath.Join(dir, "plugins"),
		"--tls-dir", filepath.Join(dir, "tls")}, args...)
	cfg, err := config.Parse("metalagent", all)
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	a := New(cfg, logs)
	a.managers = []pluginhost.Builtin{{Name: "test_nics", Manager: mgr}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	stopped := make(chan struct{})
	go func() {
		done <- a.Run(ctx)
		close(stopped)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-stopped:
		case <-time.After(10 * time.Second):
			t.Error("agent did not stop")
		}
	})
	return fmt.Sprintf("127.0.0.1:%d", port), logs, done
}

// TestStatusSaysWhyLookupIsStuck runs an agent against an Ironic that
// does not know the node yet: the status answers at once with the lookup
// stage running and its cause, commands are refused with it, and once
// Ironic answers the API serves commands over auto-TLS and the first
// heartbeat carries the stages' summary.
func TestStatusSaysWhyLookupIsStuck(t *testing.T) {
	f := &gatedIronic{version: "1.82"}
	ironic := httptest.NewServer(f)
	defer ironic.Close()
	addr, logs, done := startAgent(t, nicManager{}, "--api-url", ironic.URL, "--lookup-timeout", "60", "--disk-wait-attempts", "0")
	plain := &http.Client{Timeout: 5 * time.Second}

	st := waitStatus(t, plain, "http://"+addr, "lookup retried", func(s statusBody) bool {
		return s.stage(stages.Lookup).Attempts >= 2
	})
	if st.StartedAt == 0 || st.Version != Version {
		t.Errorf("IPA's fields: started_at %v, version %q", st.StartedAt, st.Version)
	}
	lk := st.stage(stages.Lookup)
	wantCause := "Ironic does not know a node with MACs [52:54:00:12:34:56]: is the node in a state that waits for an agent?"
	if lk.State != stages.Running || !strings.HasPrefix(lk.Cause, wantCause) || !strings.Contains(lk.Error, "Ironic answered 404") {
		t.Errorf("lookup stage = %+v", lk)
	}
	for _, name := range []string{stages.Plugins, stages.Inventory, stages.Network} {
		if s := st.stage(name); s.State != stages.Done {
			t.Errorf("stage %s = %+v, want done", name, s)
		}
	}
	if s := st.stage(stages.API); s.State != stages.Pending {
		t.Errorf("API stage = %+v, want pending", s)
	}
	if !strings.HasPrefix(st.Metalagent.Summary, "at lookup for ") || !strings.Contains(st.Metalagent.Summary, wantCause) {
		t.Errorf("summary = %q", st.Metalagent.Summary)
	}

	// Commands wait, with the reason.
	resp, err := plain.Post("http://"+addr+"/v1/commands/", "application/json", strings.NewReader(`{"name":"clean.get_clean_steps","params":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	var fault ipa.Fault
	json.NewDecoder(resp.Body).Decode(&fault)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.HasPrefix(fault.FaultString, "Agent is starting: at lookup") {
		t.Errorf("POST before lookup: %d %+v", resp.StatusCode, fault)
	}

	f.released.Store(true)
	var hb map[string]any
	var version string
	for deadline := time.Now().Add(20 * time.Second); hb == nil; time.Sleep(5 * time.Millisecond) {
		hb, version, _ = f.firstHeartbeat()
		if time.Now().After(deadline) {
			t.Fatalf("no heartbeat\n%s", logs)
		}
	}
	msg, _ := hb["agent_status_message"].(string)
	if hb["agent_status"] != "start" || version != "1.72" || !strings.HasPrefix(msg, "metalagent "+Version+": boot stages done in ") {
		t.Errorf("heartbeat status %v, message %q, API version %s", hb["agent_status"], msg, version)
	}

	// New connections are TLS now: the status over HTTPS, trusting the
	// heartbeat's certificate, shows every stage done.
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM([]byte(hb["agent_verify_ca"].(string)))
	st = waitStatus(t, httpsClient(roots), "https://"+addr, "heartbeating", func(s statusBody) bool {
		return s.stage(stages.Heartbeat).State == stages.Done
	})
	if api := st.stage(stages.API); api.Details["tls"] != "auto" || api.Details["callback_url"] != "https://"+addr {
		t.Errorf("API stage = %+v", api)
	}
	if lk := st.stage(stages.Lookup); lk.State != stages.Done || lk.Attempts < 2 || lk.Cause != "" {
		t.Errorf("lookup stage after success = %+v", lk)
	}
	select {
	case err := <-done:
		t.Fatalf("agent ended: %v", err)
	default:
	}
	// The console said why, once, at error level, and says when it is done.
	out := logs.String()
	if n := strings.Count(out, "stage attempt failed; retrying: stage=lookup"); n != 1 {
		t.Errorf("%d error lines for the same lookup failure, want 1:\n%s", n, out)
	}
	for _, want := range []string{`[ERROR] metalagent: stage attempt failed; retrying: stage=lookup attempt=1`,
		`cause="` + wantCause, `stage done: stage="API serving"`, `since_start=`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

// TestLookupGivesUpWithItsCause checks that an agent whose lookup runs out
// of time ends, having logged the stage's failure with its cause.
func TestLookupGivesUpWithItsCause(t *testing.T) {
	f := &gatedIronic{version: "1.82"}
	ironic := httptest.NewServer(f)
	defer ironic.Close()
	_, logs, done := startAgent(t, nicManager{}, "--api-url", ironic.URL, "--lookup-timeout", "1", "--disk-wait-attempts", "0")
	var err error
	select {
	case err = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("lookup did not give up")
	}
	if err == nil || !strings.Contains(err.Error(), "did not succeed within 1s") {
		t.Errorf("Run = %v", err)
	}
	if out := logs.String(); !strings.Contains(out, "[ERROR] metalagent: stage failed: stage=lookup") ||
		!strings.Contains(out, "Ironic does not know a node with MACs [52:54:00:12:34:56]") {
		t.Errorf("log lacks the lookup failure and its cause:\n%s", out)
	}
}

// TestStandaloneStagesAndEarlyStatus runs a standalone agent whose disk
// wait never finds a disk: the status answers during the wait, and the
// stages end with the disk wait failed and inspection, lookup and
// heartbeats skipped.
func TestStandaloneStagesAndEarlyStatus(t *testing.T) {
	addr, _, _ := startAgent(t, noDiskManager{}, "--standalone", "--disk-wait-attempts", "3", "--disk-wait-delay", "1")
	base := "http://" + addr
	waitStatus(t, http.DefaultClient, base, "status during the disk wait", func(s statusBody) bool {
		d := s.stage(stages.DiskWait)
		return d.State == stages.Running && d.Attempts >= 2 && s.stage(stages.Plugins).State == stages.Done
	})
	st := waitStatus(t, http.DefaultClient, base, "commands", func(s statusBody) bool {
		return s.stage(stages.API).State == stages.Done
	})
	want := map[string]stages.State{stages.Plugins: stages.Done, stages.DiskWait: stages.Failed, stages.Inventory: stages.Done,
		stages.Inspection: stages.Skipped, stages.Network: stages.Done, stages.Lookup: stages.Skipped, stages.API: stages.Done,
		stages.Heartbeat: stages.Skipped}
	if len(st.Metalagent.Stages) != len(want) {
		t.Errorf("stages = %+v", st.Metalagent.Stages)
	}
	for name, state := range want {
		if got := st.stage(name); got.State != state {
			t.Errorf("stage %s = %+v, want %s", name, got, state)
		}
	}
	if resp, err := http.Post(base+"/v1/commands/", "application/json", strings.NewReader(`{"name":"standby.get_partition_uuids","params":{}}`)); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("POST after the stages: %v %v", resp, err)
	}
}

// probeResults is a disk probe answering the errors in turn (nil: a disk).
func probeResults(errs ...error) func(context.Context) (string, error) {
	i := 0
	return func(context.Context) (string, error) {
		err := errs[min(i, len(errs)-1)]
		i++
		if err != nil {
			return "", err
		}
		return "/dev/sda", nil
	}
}

func TestDiskWaitStage(t *testing.T) {
	notYet := errors.New("generic: get_os_install_device: No suitable device was found for deployment")
	tests := []struct {
		name     string
		attempts int
		probe    func(context.Context) (string, error)
		state    stages.State
		tries    int
		err      string
	}{
		{"found at once", 10, probeResults(nil), stages.Done, 1, ""},
		{"found at the third probe", 10, probeResults(notYet, notYet, nil), stages.Done, 3, ""},
		{"never found: failed, the boot goes on", 3, probeResults(notYet), stages.Failed, 3,
			"no disk to install on after 3 attempts (going on, as IPA does): " + notYet.Error()},
		{"no manager can tell", 10, probeResults(errNoInstallDeviceMethod), stages.Skipped, 1, ""},
		{"no wait asked", 0, probeResults(notYet), stages.Skipped, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &Agent{cfg: &config.Config{DiskWaitAttempts: tt.attempts, DiskWaitDelay: time.Millisecond}, log: nullLogger()}
			st := stages.New(nil, time.Now(), stages.DiskWait)
			if err := a.diskWaitStage(context.Background(), st, tt.probe); err != nil {
				t.Fatal(err)
			}
			got := st.Stages()[0]
			if got.State != tt.state || got.Attempts != tt.tries || got.Error != tt.err {
				t.Errorf("stage = %+v, want %s after %d attempts, error %q", got, tt.state, tt.tries, tt.err)
			}
		})
	}
}

func TestStatusMessage(t *testing.T) {
	st := stages.New(nil, time.Now(), stages.Plugins)
	st.Done(stages.Plugins)
	if got := statusMessage(st); !strings.HasPrefix(got, "metalagent "+Version+": boot stages done in ") {
		t.Errorf("message = %q", got)
	}
	st.Warn(stages.Plugins, strings.Repeat("é", 800))
	got := statusMessage(st)
	if len(got) > maxStatusMessage || !strings.HasSuffix(got, "…") || !json.Valid([]byte(fmt.Sprintf("%q", got))) {
		t.Errorf("long message: %d bytes, ends %q", len(got), got[len(got)-8:])
	}
	if strings.ContainsRune(got, '\uFFFD') {
		t.Error("cut inside a character")
	}
}

// TestTLSSwitchListener checks that connections accepted before use are
// plain and later ones TLS, HTTP/2 offered as ServeTLS offers it.
func TestTLSSwitchListener(t *testing.T) {
	auto, err := newAutoForTest(t)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sl := &tlsSwitchListener{Listener: ln}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s tls=%v", r.Proto, r.TLS != nil)
	}), ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(sl)
	defer srv.Close()
	body := func(c *http.Client, url string) string {
		resp, err := c.Get(url)
		if err != nil {
			return "error: " + err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	addr := ln.Addr().String()
	if got := body(&http.Client{}, "http://"+addr); got != "HTTP/1.1 tls=false" {
		t.Errorf("before: %q", got)
	}
	sl.use(auto.config)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM([]byte(auto.verifyCA))
	h2 := httpsClient(roots)
	h2.Transport.(*http.Transport).ForceAttemptHTTP2 = true
	if got := body(h2, "https://"+addr); got != "HTTP/2.0 tls=true" {
		t.Errorf("after, HTTP/2 client: %q", got)
	}
	if got := body(httpsClient(roots), "https://"+addr); got != "HTTP/1.1 tls=true" {
		t.Errorf("after, HTTP/1.1 client: %q", got)
	}
	// A new plain connection fails; one kept alive from before stays
	// plain (the API's gate answers it the status only).
	if got := body(&http.Client{Transport: &http.Transport{}}, "http://"+addr); got == "HTTP/1.1 tls=false" {
		t.Errorf("new plain connection after the switch: %q", got)
	}
}

// newAutoForTest makes an auto-TLS certificate for 127.0.0.1, as the
// agent serves it.
func newAutoForTest(t *testing.T) (*apiTLS, error) {
	t.Helper()
	auto, err := tlsconf.GenerateAuto(context.Background(), tlsconf.AutoOptions{Host: "127.0.0.1"})
	if err != nil {
		return nil, err
	}
	return &apiTLS{mode: tlsAuto, config: tlsconf.ServerConfig(auto.Certificate, 0), auto: auto, verifyCA: auto.CertPEM}, nil
}

// nullLogger discards.
func nullLogger() hclog.Logger { return hclog.NewNullLogger() }
