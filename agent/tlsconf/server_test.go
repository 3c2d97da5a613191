package tlsconf

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"testing"
)

func TestParseMinVersion(t *testing.T) {
	tests := []struct {
		in   string
		want uint16
		err  bool
	}{
		{"", tls.VersionTLS12, false},
		{"1.2", tls.VersionTLS12, false},
		{"1.3", tls.VersionTLS13, false},
		{"1.1", 0, true},
		{"tls1.2", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseMinVersion(tt.in)
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("ParseMinVersion(%q) = %x, %v; want %x, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

// TestServerConfigHandshakes runs real handshakes against ServerConfig
// with clients that offer more or less than it accepts.
func TestServerConfigHandshakes(t *testing.T) {
	a, err := GenerateAuto(context.Background(), AutoOptions{Host: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(a.Leaf)
	tests := []struct {
		name   string
		min    uint16
		client *tls.Config
		want   string // substring of the client's error; "" for success
	}{
		{"TLS 1.3", tls.VersionTLS12, &tls.Config{}, ""},
		{"TLS 1.2 with AES-GCM", tls.VersionTLS12, &tls.Config{MaxVersion: tls.VersionTLS12}, ""},
		{"TLS 1.2 with ChaCha20", tls.VersionTLS12, &tls.Config{MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}}, ""},
		{"TLS 1.1 only", tls.VersionTLS12, &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}, "protocol version"},
		{"TLS 1.2 with CBC only", tls.VersionTLS12, &tls.Config{MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}}, "handshake failure"},
		{"TLS 1.2 against a 1.3 minimum", tls.VersionTLS13, &tls.Config{MaxVersion: tls.VersionTLS12}, "protocol version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := tls.Listen("tcp", "127.0.0.1:0", ServerConfig(a.Certificate, tt.min))
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			serverErr := make(chan error, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					serverErr <- err
					return
				}
				defer c.Close()
				serverErr <- c.(*tls.Conn).Handshake()
			}()
			cfg := tt.client.Clone()
			cfg.RootCAs = roots
			conn, err := tls.Dial("tcp", ln.Addr().String(), cfg)
			if conn != nil {
				conn.Close()
			}
			sErr := <-serverErr
			if tt.want == "" {
				if err != nil || sErr != nil {
					t.Fatalf("client %v, server %v; want a handshake", err, sErr)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("client error %v, want one containing %q", err, tt.want)
			}
			if sErr == nil {
				t.Error("server accepted the handshake")
			}
			var ne net.Error
			if errors.As(sErr, &ne) && ne.Timeout() {
				t.Errorf("server timed out instead of refusing: %v", sErr)
			}
		})
	}
}
