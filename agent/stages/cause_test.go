package stages

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/metalagent/metalagent/agent/tlsconf/tlstest"
)

// tlsServer serves HTTPS on 127.0.0.1 with a certificate of ca valid over
// [notBefore, notAfter] for that address.
func tlsServer(t *testing.T, ca *tlstest.CA, notBefore, notAfter time.Time) *httptest.Server {
	t.Helper()
	certFile, keyFile := ca.Issue(t, t.TempDir(), "ironic", "127.0.0.1", notBefore, notAfter)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	ts.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	ts.StartTLS()
	t.Cleanup(ts.Close)
	return ts
}

// get fetches u with a client trusting roots (system roots when nil) and
// returns its error.
func get(t *testing.T, roots *x509.CertPool, u string) error {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	resp, err := c.Get(u)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("GET %s succeeded, want an error", u)
	}
	return err
}

// TestExplainRealErrors checks causes on the errors net/http really
// returns, wrapped as the Ironic client wraps them.
func TestExplainRealErrors(t *testing.T) {
	ca := tlstest.NewCA(t)
	now := time.Now()
	valid := tlsServer(t, ca, now.Add(-time.Hour), now.Add(time.Hour))
	expired := tlsServer(t, ca, now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	plain := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(plain.Close)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()
	byName := strings.Replace(valid.URL, "127.0.0.1", "localhost", 1)

	tests := []struct {
		name string
		err  error
		want []string // in the cause
	}{
		{"CA not trusted", get(t, x509.NewCertPool(), valid.URL),
			[]string{"certificate signed by unknown authority (Ironic's CA not in ipa-cafile?)", `"CN=metalagent test CA"`}},
		{"expired", get(t, ca.Pool(), expired.URL),
			[]string{"certificate expired or not yet valid", "current time", "ipa-ntp-server"}},
		{"wrong host name", get(t, ca.Pool(), byName),
			[]string{"wrong host name", "localhost", "as its certificate does"}},
		{"https to a plain server", get(t, nil, strings.Replace(plain.URL, "http:", "https:", 1)),
			[]string{"does not speak TLS"}},
		{"refused", get(t, nil, "http://"+closedAddr+"/"),
			[]string{"connection refused: nothing listens at " + closedAddr}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := fmt.Errorf("lookup: %w", tt.err)
			got := Explain(err)
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("Explain(%v)\n= %q\nlacks %q", err, got, w)
				}
			}
		})
	}
}

// timeoutErr is a net.Error that timed out.
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestExplainBuiltErrors(t *testing.T) {
	addr := &net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 6385}
	wrap := func(err error) error { return &url.Error{Op: "Get", URL: "http://ironic:6385/v1/lookup", Err: err} }
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"plain error: nothing to add", fmt.Errorf("decode answer: unexpected EOF"), ""},
		{"hint wins", fmt.Errorf("lookup: %w", hinted{"404", "Ironic does not know a node"}), "Ironic does not know a node"},
		{"empty hint falls through", wrap(hinted{"x", ""}), ""},
		{"DNS", wrap(&net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "ironic", IsNotFound: true}}),
			`cannot resolve host name "ironic"`},
		{"timeout", wrap(&net.OpError{Op: "dial", Net: "tcp", Addr: addr, Err: timeoutErr{}}),
			"no answer from 192.0.2.1:6385 in time"},
		{"deadline", fmt.Errorf("heartbeat: %w", context.DeadlineExceeded), "no answer from the server in time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Explain(tt.err); !strings.Contains(got, tt.want) || (tt.want == "" && got != "") {
				t.Errorf("Explain = %q, want %q", got, tt.want)
			}
		})
	}
}
