package api

import (
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

func TestErrorLogClassifies(t *testing.T) {
	tests := []struct {
		line    string
		level   string
		problem string
	}{
		{"http: TLS handshake error from 10.0.0.9:41234: tls: client offered only unsupported versions: [302 301]",
			"[WARN]", "below the agent's minimum"},
		{"http: TLS handshake error from [fd00::9]:41234: tls: no cipher suite supported by both client and server",
			"[WARN]", "no cipher suite in common"},
		{"http: TLS handshake error from 10.0.0.9:41234: client sent an HTTP request to an HTTPS server",
			"[WARN]", "the client uses http://"},
		{"http: TLS handshake error from 10.0.0.9:41234: remote error: tls: unknown certificate authority",
			"[WARN]", "does not trust the agent's certificate"},
		{"http: TLS handshake error from 10.0.0.9:41234: remote error: tls: bad certificate",
			"[WARN]", "does not trust the agent's certificate"},
		{"http: TLS handshake error from 10.0.0.9:41234: EOF",
			"[DEBUG]", "closed the connection during the handshake"},
		{"http: TLS handshake error from 10.0.0.9:41234: tls: something new",
			"[WARN]", "TLS handshake failed"},
		{"http: Accept error: accept tcp [::]:9999: too many open files; retrying in 5ms",
			"[ERROR]", ""},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			out := &syncBuffer{}
			l := newErrorLog(hclog.New(&hclog.LoggerOptions{Output: out, Level: hclog.Trace}))
			l.Print(tt.line)
			got := out.String()
			if !strings.Contains(got, tt.level) || !strings.Contains(got, tt.problem) {
				t.Errorf("logged %q, want level %s and problem %q", got, tt.level, tt.problem)
			}
			if strings.HasPrefix(tt.line, handshakePrefix) {
				remote, text, _ := strings.Cut(strings.TrimPrefix(tt.line, handshakePrefix), ": ")
				if !strings.Contains(got, "remote="+remote) || !strings.Contains(got, text) {
					t.Errorf("logged %q, want remote=%s and Go's error %q", got, remote, text)
				}
			}
			if strings.Count(got, "\n") != 1 {
				t.Errorf("logged %d lines, want 1", strings.Count(got, "\n"))
			}
		})
	}
}

func TestErrorLogRateLimitsPerProblem(t *testing.T) {
	out := &syncBuffer{}
	now := time.Unix(1700000000, 0)
	e := &errorLog{log: hclog.New(&hclog.LoggerOptions{Output: out}), window: time.Minute,
		now: func() time.Time { return now }, last: map[string]*problemCount{}}
	oldTLS := []byte(handshakePrefix + "10.0.0.9:1: tls: client offered only unsupported versions: [301]\n")
	plain := []byte(handshakePrefix + "10.0.0.9:2: client sent an HTTP request to an HTTPS server\n")
	for range 50 {
		e.Write(oldTLS)
	}
	e.Write(plain) // another problem is not held back by the first
	now = now.Add(30 * time.Second)
	e.Write(oldTLS)
	if n := strings.Count(out.String(), "\n"); n != 2 {
		t.Fatalf("%d lines within the window, want one per problem:\n%s", n, out)
	}
	now = now.Add(31 * time.Second)
	e.Write(oldTLS)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[2], "repeats_not_logged=50") {
		t.Errorf("after the window want a third line counting the 50 held back:\n%s", out)
	}
}
