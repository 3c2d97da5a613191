package api

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/metalagent/metalagent/agent/tlsconf"
)

// serveTLS serves a test API over TLS with a generated certificate and
// returns its URL, the certificate and the API's log.
func serveTLS(t *testing.T) (string, *x509.Certificate, *syncBuffer) {
	t.Helper()
	auto, err := tlsconf.GenerateAuto(t.Context(), tlsconf.AutoOptions{Host: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	s := &Server{Version: "test", Started: time.Now(), Logger: hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Debug})}
	srv := s.HTTPServer(tlsconf.ServerConfig(auto.Certificate, tls.VersionTLS12))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, srv, func() error { return ServeOn(srv, ln) }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return "https://" + ln.Addr().String(), auto.Leaf, logs
}

func client(cfg *tls.Config) *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
}

func TestServeTLSRefusesBadClientsAndKeepsServing(t *testing.T) {
	url, cert, logs := serveTLS(t)
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	good := client(&tls.Config{RootCAs: roots})

	bad := []struct {
		name    string
		do      func() error
		problem string
	}{
		{"TLS 1.1 client", func() error {
			_, err := client(&tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}).Get(url + "/v1/status")
			return err
		}, "below the agent's minimum"},
		{"CBC-only client", func() error {
			_, err := client(&tls.Config{RootCAs: roots, MaxVersion: tls.VersionTLS12,
				CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA}}).Get(url + "/v1/status")
			return err
		}, "no cipher suite in common"},
		{"client trusting nothing", func() error {
			_, err := client(&tls.Config{RootCAs: x509.NewCertPool()}).Get(url + "/v1/status")
			var uae x509.UnknownAuthorityError
			if !errors.As(err, &uae) {
				t.Errorf("error %v, want an x509 unknown-authority error", err)
			}
			return err
		}, "does not trust the agent's certificate"},
		{"plain HTTP client", func() error {
			resp, err := http.Get("http://" + strings.TrimPrefix(url, "https://") + "/v1/status")
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode == http.StatusBadRequest {
				return errors.New(string(b))
			}
			return nil
		}, "the client uses http://"},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			if err := b.do(); err == nil {
				t.Fatal("request succeeded")
			}
			deadline := time.Now().Add(5 * time.Second)
			for !strings.Contains(logs.String(), b.problem) {
				if time.Now().After(deadline) {
					t.Fatalf("no log line naming %q:\n%s", b.problem, logs)
				}
				time.Sleep(5 * time.Millisecond)
			}
			resp, err := good.Get(url + "/v1/status")
			if err != nil {
				t.Fatalf("the API stopped serving good clients: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("status %d", resp.StatusCode)
			}
		})
	}
}

func TestHTTPServerPlainWithoutTLSConfig(t *testing.T) {
	s := &Server{Version: "test", Started: time.Now(), Logger: hclog.NewNullLogger()}
	srv := s.HTTPServer(nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go ServeOn(srv, ln)
	defer srv.Close()
	resp, err := http.Get("http://" + ln.Addr().String() + "/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS != nil {
		t.Errorf("status %d, TLS %v; want plain 200", resp.StatusCode, resp.TLS != nil)
	}
}
