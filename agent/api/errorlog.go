package api

import (
	"log"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// handshakePrefix starts net/http's line for a failed TLS handshake:
// "http: TLS handshake error from <addr>: <error>".
const handshakePrefix = "http: TLS handshake error from "

// handshakeProblem is a class of failed TLS handshakes: how to recognise
// it in net/http's error text, what to tell the operator, and at which
// level.
type handshakeProblem struct {
	match  []string
	reason string
	level  hclog.Level
}

// handshakeProblems are checked in order; the last one catches the rest.
var handshakeProblems = []handshakeProblem{
	{[]string{"client sent an HTTP request to an HTTPS server"},
		"plain HTTP request on the TLS port: the client uses http://, the agent serves https://", hclog.Warn},
	{[]string{"unsupported versions", "protocol version"},
		"the client offers only TLS versions below the agent's minimum", hclog.Warn},
	{[]string{"no cipher suite supported by both"},
		"no cipher suite in common: on TLS 1.2 the agent accepts only ECDHE with AES-GCM or ChaCha20-Poly1305", hclog.Warn},
	{[]string{"no ECDHE curve supported by both", "no mutually supported"},
		"no key-exchange group or signature scheme in common with the client", hclog.Warn},
	{[]string{"bad certificate", "unknown certificate authority", "certificate unknown", "certificate expired"},
		"the client does not trust the agent's certificate (a conductor verifies it with the agent_verify_ca of the heartbeat, or its configured CA)", hclog.Warn},
	{[]string{"EOF", "connection reset by peer", "i/o timeout", "use of closed network connection"},
		"the client closed the connection during the handshake (a port probe?)", hclog.Debug},
	{nil, "TLS handshake failed", hclog.Warn},
}

// classify returns the problem an error text belongs to.
func classify(text string) handshakeProblem {
	for _, p := range handshakeProblems {
		for _, m := range p.match {
			if strings.Contains(text, m) {
				return p
			}
		}
	}
	return handshakeProblems[len(handshakeProblems)-1]
}

// ErrorLogWindow is how long repeats of one handshake problem stay
// silent after it was logged; they are counted and the count goes with
// the next line logged for it.
const ErrorLogWindow = time.Minute

// errorLog turns net/http's server error lines into structured lines of
// a go-hclog logger: a failed TLS handshake becomes one line naming the
// problem, the client's address and Go's error, at most once per
// ErrorLogWindow per problem; any other line is an error.
type errorLog struct {
	log    hclog.Logger
	window time.Duration
	now    func() time.Time

	mu   sync.Mutex
	last map[string]*problemCount
}

// problemCount is when a problem was last logged and how many times it
// occurred since.
type problemCount struct {
	logged     time.Time
	suppressed int
}

// newErrorLog returns the *log.Logger to set as http.Server.ErrorLog.
func newErrorLog(l hclog.Logger) *log.Logger {
	return log.New(&errorLog{log: l, window: ErrorLogWindow, now: time.Now, last: map[string]*problemCount{}}, "", 0)
}

// Write receives one line of net/http's error log.
func (e *errorLog) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	rest, ok := strings.CutPrefix(line, handshakePrefix)
	if !ok {
		e.log.Error("API server error", "error", line)
		return len(p), nil
	}
	remote, text, _ := strings.Cut(rest, ": ")
	prob := classify(text)
	suppressed, logIt := e.admit(prob.reason)
	if !logIt {
		return len(p), nil
	}
	args := []any{"problem", prob.reason, "remote", remote, "error", text}
	if suppressed > 0 {
		args = append(args, "repeats_not_logged", suppressed)
	}
	e.log.Log(prob.level, "TLS handshake refused; the API keeps serving", args...)
	return len(p), nil
}

// admit says whether a line for problem may be logged now and how many
// were held back since the last one.
func (e *errorLog) admit(problem string) (suppressed int, ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	c := e.last[problem]
	if c == nil {
		e.last[problem] = &problemCount{logged: now}
		return 0, true
	}
	if now.Sub(c.logged) < e.window {
		c.suppressed++
		return 0, false
	}
	suppressed = c.suppressed
	c.logged, c.suppressed = now, 0
	return suppressed, true
}
