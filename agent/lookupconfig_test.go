package agent

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestNewerIronicLookupConfig runs the agent against an Ironic whose
// lookup config has what Ironic's master sends after 2026.1
// (tls_min_version 1.3, the default of [agent]tls_minimum_version) and
// keys no Ironic sends yet: the agent serves TLS 1.3 only, as IPA applies
// tls_min_version, and names the unknown keys without failing.
func TestNewerIronicLookupConfig(t *testing.T) {
	f := &gatedIronic{version: "1.111", extraConfig: `,"tls_min_version":"1.3","tls_cipher_suites":null,` +
		`"agent_md5_checksum_enable":false,"agent_future_knob":{"a":1}`}
	f.released.Store(true)
	ironic := httptest.NewServer(f)
	defer ironic.Close()
	addr, logs, _ := startAgent(t, nicManager{}, "--api-url", ironic.URL, "--disk-wait-attempts", "0")
	var hb map[string]any
	for deadline := time.Now().Add(20 * time.Second); hb == nil; time.Sleep(5 * time.Millisecond) {
		hb, _, _ = f.firstHeartbeat()
		if time.Now().After(deadline) {
			t.Fatalf("no heartbeat\n%s", logs)
		}
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM([]byte(hb["agent_verify_ca"].(string)))
	for _, tc := range []struct {
		max uint16
		ok  bool
	}{{tls.VersionTLS12, false}, {tls.VersionTLS13, true}} {
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MaxVersion: tc.max}}}
		_, err := fetchStatusErr(c, "https://"+addr)
		if (err == nil) != tc.ok {
			t.Errorf("client up to TLS version %x: err %v, want success %v", tc.max, err, tc.ok)
		}
	}
	out := logs.String()
	for _, want := range []string{"TLS minimum version of the API set by Ironic: node=n-1 tls_min_version=1.3",
		"lookup config keys this agent does not know (a newer Ironic); ignored: node=n-1 keys=[\"agent_future_knob\"]",
		"Ironic disables MD5 image checksums"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

// fetchStatusErr GETs base/v1/status and returns its status code or the
// error.
func fetchStatusErr(c *http.Client, base string) (int, error) {
	resp, err := c.Get(base + "/v1/status")
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
