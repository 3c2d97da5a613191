package pluginhost

import (
	"context"
	"crypto/tls"
	"net"
	"testing"
	"time"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// TestPluginRequiresHostCertificate checks that a plugin's socket speaks
// TLS and refuses a client without the host's certificate: only the agent
// can call its plugins.
func TestPluginRequiresHostCertificate(t *testing.T) {
	h := startHost(t, pluginDir(t, "tls-1"))
	inst, _, err := h.managers[0].proc.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	addr := inst.client.ReattachConfig().Addr
	tests := []struct {
		name string
		cert []tls.Certificate
	}{
		{"no client certificate", nil},
		{"a stranger's certificate", strangerCert(t)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := net.DialTimeout(addr.Network(), addr.String(), time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			_ = raw.SetDeadline(time.Now().Add(2 * time.Second))
			conn := tls.Client(raw, &tls.Config{InsecureSkipVerify: true, Certificates: tt.cert, NextProtos: []string{"h2"}}) //nolint:gosec // the test is the attacker
			err = conn.Handshake()
			if err == nil {
				// TLS 1.3 reports the server's refusal on the first read.
				_, err = conn.Read(make([]byte, 1))
			}
			if err == nil {
				t.Fatal("the plugin accepted a connection without the host's certificate")
			}
		})
	}
	// Positive control: with the host's certificate the TLS handshake
	// succeeds, so the refusals above are the plugin checking certificates,
	// not a socket that speaks no TLS.
	raw, err := net.DialTimeout(addr.Network(), addr.String(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	_ = raw.SetDeadline(time.Now().Add(2 * time.Second))
	conn := tls.Client(raw, &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{h.clientCert}, NextProtos: []string{"h2"}}) //nolint:gosec // only the client certificate matters here
	if err := conn.Handshake(); err != nil {
		t.Fatalf("handshake with the host's certificate: %v", err)
	}
	// The host itself still gets through.
	if _, err := h.Dispatch(context.Background(), sdk.ExecuteRequest{Method: "shared_step"}); err != nil {
		t.Fatalf("host call after the probes: %v", err)
	}
}

func strangerCert(t *testing.T) []tls.Certificate {
	t.Helper()
	kp, err := sdk.NewTLSKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.X509KeyPair(kp.CertPEM, kp.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return []tls.Certificate{c}
}
