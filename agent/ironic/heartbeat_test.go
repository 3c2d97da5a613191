package ironic

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// versionedIronic answers version discovery with version (failing it
// when empty) and records the raw heartbeat bodies and their version
// headers.
type versionedIronic struct {
	version string
	bodies  []map[string]any
	headers []string
}

func (f *versionedIronic) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/":
		if f.version == "" {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"default_version": map[string]string{"version": f.version}})
	case "/v1/heartbeat/n-1":
		var body map[string]any
		json.NewDecoder(r.Body).Decode(&body)
		f.bodies = append(f.bodies, body)
		f.headers = append(f.headers, r.Header.Get("X-OpenStack-Ironic-API-Version"))
		w.WriteHeader(http.StatusAccepted)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func TestAutoTLSVersionGate(t *testing.T) {
	const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
	tests := []struct {
		ironic     string
		detected   string
		supports   bool
		header     string
		sendsCA    bool
		sendsAgent bool
	}{
		{"1.82", "1.82", true, "1.68", true, true},   // Ironic 21.4
		{"1.68", "1.68", true, "1.68", true, true},   // the first that takes agent_verify_ca
		{"1.67", "1.67", false, "1.67", false, true}, // one below: the field would be a 400
		{"1.36", "1.36", false, "1.36", false, true},
		{"1.35", "1.35", false, "1.35", false, false},
		{"", "1.31", false, "1.31", false, false}, // discovery failed: IPA's minimum
	}
	for _, tt := range tests {
		t.Run("ironic "+tt.ironic, func(t *testing.T) {
			f := &versionedIronic{version: tt.ironic}
			ts := httptest.NewServer(f)
			defer ts.Close()
			c := &Client{BaseURL: ts.URL}
			got, v := c.SupportsAutoTLS(context.Background())
			if got != tt.supports || v != tt.detected {
				t.Errorf("SupportsAutoTLS = %v (version %s), want %v (%s)", got, v, tt.supports, tt.detected)
			}
			err := c.Heartbeat(context.Background(), "n-1", HeartbeatRequest{
				CallbackURL: "https://192.0.2.10:9999", AgentToken: tok, AgentVersion: "0.1.0", AgentVerifyCA: pem})
			if err != nil {
				t.Fatal(err)
			}
			body := f.bodies[0]
			if _, ok := body["agent_verify_ca"]; ok != tt.sendsCA || (ok && body["agent_verify_ca"] != pem) {
				t.Errorf("agent_verify_ca sent = %v (%q), want %v", ok, body["agent_verify_ca"], tt.sendsCA)
			}
			if _, ok := body["agent_version"]; ok != tt.sendsAgent {
				t.Errorf("agent_version sent = %v, want %v", ok, tt.sendsAgent)
			}
			if f.headers[0] != tt.header {
				t.Errorf("version header %q, want %q", f.headers[0], tt.header)
			}
		})
	}
}
