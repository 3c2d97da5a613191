package agent

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/metalagent/metalagent/agent/config"
	"github.com/metalagent/metalagent/agent/pluginhost"
	"github.com/metalagent/metalagent/agent/tlsconf/tlstest"
	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

const testToken = "0123456789abcdef0123456789abcdef0123456789a"

// fakeIronic is an in-process Ironic API: version discovery answers
// version, lookup hands out testToken, and every heartbeat body is sent
// to heartbeats.
type fakeIronic struct {
	version    string
	heartbeats chan map[string]any
}

func (f *fakeIronic) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/":
		json.NewEncoder(w).Encode(map[string]any{"default_version": map[string]string{"id": "v1", "version": f.version}})
	case r.URL.Path == "/v1/lookup":
		fmt.Fprintf(w, `{"node":{"uuid":"n-1","properties":{}},"config":{"heartbeat_timeout":300,"agent_token":%q,"agent_token_required":true}}`, testToken)
	case r.URL.Path == "/v1/heartbeat/n-1":
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		select {
		case f.heartbeats <- body:
		default:
		}
		w.WriteHeader(http.StatusAccepted)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

// nicManager reports one interface, so that lookup has a MAC.
type nicManager struct {
	sdk.UnimplementedHardwareManager
}

func (nicManager) EvaluateHardwareSupport(context.Context, sdk.HostConfig) (sdk.SupportLevel, error) {
	return sdk.SupportMainline, nil
}

func (nicManager) Version(context.Context) (sdk.Version, error) {
	return sdk.Version{Name: "test_nics", Version: "1.0"}, nil
}

func (nicManager) Inventory(context.Context) (*sdk.Inventory, error) {
	return &sdk.Inventory{Interfaces: []sdk.NetworkInterface{{Name: "eth0", MACAddress: "52:54:00:12:34:56"}}}, nil
}

// lockedBuffer collects the agent's log.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// agentRun is an agent running against a fake Ironic.
type agentRun struct {
	hb     map[string]any // the first heartbeat
	addr   string         // the API's host:port
	tlsDir string         // --tls-dir
	logs   *lockedBuffer
	ironic *fakeIronic
}

// runAgent runs the agent against an in-process Ironic of the given API
// version with extra flags, until its first heartbeat. The agent stops at
// the end of the test.
func runAgent(t *testing.T, version string, extra ...string) agentRun {
	t.Helper()
	f := &fakeIronic{version: version, heartbeats: make(chan map[string]any, 8)}
	ironic := httptest.NewServer(f)
	t.Cleanup(ironic.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	dir := t.TempDir()
	cmdline := filepath.Join(dir, "cmdline")
	if err := os.WriteFile(cmdline, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tlsDir := filepath.Join(dir, "run", "metalagent")
	args := append([]string{"--api-url", ironic.URL, "--cmdline-file", cmdline,
		"--listen-host", "127.0.0.1", "--listen-port", port, "--advertise-host", "127.0.0.1", "--advertise-port", port,
		"--plugin-dir", filepath.Join(dir, "plugins"), "--tls-dir", tlsDir, "--lookup-timeout", "10"}, extra...)
	cfg, err := config.Parse("metalagent", args)
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	a := New(cfg, logs)
	a.managers = []pluginhost.Builtin{{Name: "test_nics", Manager: nicManager{}}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	var hb map[string]any
	select {
	case hb = <-f.heartbeats:
	case err := <-done:
		t.Fatalf("agent ended before heartbeating: %v\n%s", err, logs)
	case <-time.After(20 * time.Second):
		t.Fatalf("no heartbeat in 20 s\n%s", logs)
	}
	return agentRun{hb: hb, addr: "127.0.0.1:" + port, tlsDir: tlsDir, logs: logs, ironic: f}
}

// getStatus fetches /v1/status with client over scheme.
func getStatus(client *http.Client, scheme, addr string) error {
	resp, err := client.Get(scheme + "://" + addr + "/v1/status")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

func httpsClient(roots *x509.CertPool) *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
}

func TestAutoTLS(t *testing.T) {
	r := runAgent(t, "1.82")
	hb, addr, tlsDir, logs := r.hb, r.addr, r.tlsDir, r.logs
	if hb["callback_url"] != "https://"+addr {
		t.Errorf("callback_url %v, want https://%s", hb["callback_url"], addr)
	}
	pemText, _ := hb["agent_verify_ca"].(string)
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(pemText)) {
		t.Fatalf("agent_verify_ca is not a PEM certificate: %q\n%s", pemText, logs)
	}
	// A client that trusts only the heartbeat's PEM connects, verifying
	// the name in the callback URL, as the conductor does.
	if err := getStatus(httpsClient(roots), "https", addr); err != nil {
		t.Errorf("client trusting agent_verify_ca: %v", err)
	}
	// One that trusts nothing fails with an x509 error.
	err := getStatus(httpsClient(x509.NewCertPool()), "https", addr)
	var uae x509.UnknownAuthorityError
	if !errors.As(err, &uae) {
		t.Errorf("client trusting nothing: %v, want an x509 unknown-authority error", err)
	}
	// The operator finds the same pair in the TLS directory.
	deadline := time.Now().Add(5 * time.Second)
	for {
		crt, err := os.ReadFile(filepath.Join(tlsDir, "agent.crt"))
		if err == nil && string(crt) == pemText {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/agent.crt: %v (or differs from agent_verify_ca)", tlsDir, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := tls.LoadX509KeyPair(filepath.Join(tlsDir, "agent.crt"), filepath.Join(tlsDir, "agent.key")); err != nil {
		t.Errorf("written pair: %v", err)
	}
	// Commands still need the token, over TLS too.
	c := httpsClient(roots)
	for _, tc := range []struct {
		query   string
		refused bool
	}{{"", true}, {"?agent_token=" + testToken, false}} {
		resp, err := c.Post("https://"+addr+"/v1/commands/"+tc.query, "application/json",
			strings.NewReader(`{"name":"clean.get_clean_steps","params":{"node":{},"ports":[]}}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if (resp.StatusCode == http.StatusUnauthorized) != tc.refused {
			t.Errorf("POST with %q: %d, refused want %v", tc.query, resp.StatusCode, tc.refused)
		}
	}
	// The handshake the untrusting client aborted is logged by the agent.
	for !strings.Contains(logs.String(), "does not trust the agent's certificate") {
		if time.Now().After(deadline) {
			t.Fatalf("no log line for the refused handshake:\n%s", logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestAutoTLSKeepsOneCertificate checks that a later heartbeat carries
// the same certificate as the first and that it is the one served: Ironic
// 21.4 refuses a heartbeat whose agent_verify_ca changed. It waits for a
// forced heartbeat (IPA's 5 s after the last success).
func TestAutoTLSKeepsOneCertificate(t *testing.T) {
	if testing.Short() {
		t.Skip("waits 5 s for a forced heartbeat")
	}
	r := runAgent(t, "1.82")
	first, _ := r.hb["agent_verify_ca"].(string)
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(first)) {
		t.Fatalf("first heartbeat has no certificate: %v", r.hb)
	}
	// An async command that fails at once forces a heartbeat.
	resp, err := httpsClient(roots).Post("https://"+r.addr+"/v1/commands/?agent_token="+testToken, "application/json",
		strings.NewReader(`{"name":"clean.execute_clean_step","params":{"step":{"step":"no_such_step","interface":"deploy"},"node":{},"ports":[]}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var second map[string]any
	select {
	case second = <-r.ironic.heartbeats:
	case <-time.After(15 * time.Second):
		t.Fatalf("no forced heartbeat\n%s", r.logs)
	}
	if second["agent_verify_ca"] != first {
		t.Errorf("second heartbeat's agent_verify_ca differs from the first")
	}
	conn, err := tls.Dial("tcp", r.addr, &tls.Config{RootCAs: roots})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	block, _ := pem.Decode([]byte(first))
	if served := conn.ConnectionState().PeerCertificates[0]; !bytes.Equal(served.Raw, block.Bytes) {
		t.Errorf("served certificate is not the one in the heartbeats")
	}
}

func TestPlainHTTPWithoutAutoTLS(t *testing.T) {
	tests := []struct {
		name    string
		version string
		args    []string
	}{
		{"Ironic below 1.68", "1.67", nil},
		{"auto-TLS disabled", "1.82", []string{"--enable-auto-tls=false"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runAgent(t, tt.version, tt.args...)
			hb, addr, tlsDir, logs := r.hb, r.addr, r.tlsDir, r.logs
			if hb["callback_url"] != "http://"+addr {
				t.Errorf("callback_url %v, want http://%s", hb["callback_url"], addr)
			}
			if _, ok := hb["agent_verify_ca"]; ok {
				t.Errorf("agent_verify_ca sent: %v", hb["agent_verify_ca"])
			}
			if err := getStatus(http.DefaultClient, "http", addr); err != nil {
				t.Errorf("plain HTTP: %v\n%s", err, logs)
			}
			if _, err := os.Stat(tlsDir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("TLS directory written without auto-TLS: %v", err)
			}
		})
	}
}

func TestStaticTLS(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t)
	cert, key := ca.Issue(t, dir, "agent", "127.0.0.1", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	r := runAgent(t, "1.82", "--listen-tls", "--tls-cert-file", cert, "--tls-key-file", key)
	hb, addr, tlsDir, logs := r.hb, r.addr, r.tlsDir, r.logs
	if hb["callback_url"] != "https://"+addr {
		t.Errorf("callback_url %v, want https://%s", hb["callback_url"], addr)
	}
	if _, ok := hb["agent_verify_ca"]; ok {
		t.Errorf("static TLS sent agent_verify_ca (the operator configures Ironic's verify_ca)")
	}
	if err := getStatus(httpsClient(ca.Pool()), "https", addr); err != nil {
		t.Errorf("client trusting the operator's CA: %v\n%s", err, logs)
	}
	if _, err := os.Stat(tlsDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("TLS directory written with static TLS: %v", err)
	}
}

func TestStaticTLSBadFilesStopBeforeLookup(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t)
	cert, key := ca.Issue(t, dir, "agent", "127.0.0.1", time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	var lookups int
	var mu sync.Mutex
	ironic := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		lookups++
		mu.Unlock()
		w.WriteHeader(http.StatusNotFound)
	}))
	defer ironic.Close()
	cmdline := filepath.Join(dir, "cmdline")
	os.WriteFile(cmdline, nil, 0o644)
	cfg, err := config.Parse("metalagent", []string{"--api-url", ironic.URL, "--cmdline-file", cmdline,
		"--plugin-dir", filepath.Join(dir, "plugins"), "--listen-tls", "--tls-cert-file", cert, "--tls-key-file", key})
	if err != nil {
		t.Fatal(err)
	}
	err = New(cfg, io.Discard).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), cert) || !strings.Contains(err.Error(), "expired") {
		t.Errorf("Run = %v, want an error naming %s as expired", err, cert)
	}
	mu.Lock()
	defer mu.Unlock()
	if lookups != 0 {
		t.Errorf("%d requests reached Ironic; a bad certificate must stop the agent before lookup takes the token", lookups)
	}
}
