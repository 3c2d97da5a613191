package agent

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/metalagent/metalagent/agent/api"
	"github.com/metalagent/metalagent/agent/ipa"
	"github.com/metalagent/metalagent/agent/stages"
)

// apiEndpoint is the agent's API listener. It opens at the start of Run,
// before the plugins, so that GET /v1/status says where the boot is and
// why it is stuck from the first milliseconds; IPA serves nothing before
// its lookup. Until the boot stages up to lookup are done (commandsReady)
// it answers only the status and version documents; commands get a 503
// fault naming the stage the agent is at. Ironic calls the agent only
// after a heartbeat, which comes later still.
//
// TLS: static TLS is known at the start and served from it; auto-TLS is
// decided after lookup (it needs Ironic's API version and the advertised
// address), so the early status is plain HTTP and commandsReady switches
// the listener to TLS for every new connection. A plain connection kept
// alive from before the switch still gets the status, nothing else.
type apiEndpoint struct {
	ln     *tlsSwitchListener
	srv    *http.Server
	full   http.Handler
	stages *stages.Tracker
	log    hclog.Logger
	// ready is set once commands are served; tlsOn once TLS is.
	ready, tlsOn atomic.Bool
	// done receives the server's end (see api.Serve).
	done chan error
}

// openAPI listens on the API's address and serves srv's status and
// version documents over static TLS (when static is not nil) or plain
// HTTP, until ctx ends.
func (a *Agent) openAPI(ctx context.Context, srv *api.Server, static *apiTLS, st *stages.Tracker) (*apiEndpoint, error) {
	addr := net.JoinHostPort(a.cfg.ListenHost, strconv.Itoa(a.cfg.ListenPort))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	e := &apiEndpoint{ln: &tlsSwitchListener{Listener: ln}, stages: st, log: srv.Logger, done: make(chan error, 1)}
	if static != nil {
		e.ln.use(static.config)
		e.tlsOn.Store(true)
	}
	// TLS comes from the listener, so that it can be switched on later;
	// http.Server then serves each *tls.Conn as ServeTLS would (HTTP/2
	// included, see tlsSwitchListener.use).
	e.srv = srv.HTTPServer(nil)
	e.full = e.srv.Handler
	e.srv.Handler = e
	go func() { e.done <- api.Serve(ctx, e.srv, func() error { return e.srv.Serve(e.ln) }) }()
	a.log.Info("status endpoint answering; commands wait for the boot stages", "address", ln.Addr().String(),
		"tls", e.tlsOn.Load(), "since_start", time.Since(a.started).Round(time.Microsecond))
	return e, nil
}

// commandsReady serves every route from now on, over t's TLS when it has
// some: the API stage is done.
func (e *apiEndpoint) commandsReady(t *apiTLS) {
	if t.config != nil {
		e.ln.use(t.config)
		e.tlsOn.Store(true)
	}
	e.ready.Store(true)
}

// address is where the API listens.
func (e *apiEndpoint) address() string { return e.ln.Addr().String() }

// statusRoutes are answered from the start.
var statusRoutes = map[string]bool{"/": true, "/v1/": true, "/v1/status": true, "/status": true}

// ServeHTTP gates the API's routes (see apiEndpoint).
func (e *apiEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if e.ready.Load() && (r.TLS != nil || !e.tlsOn.Load()) {
		e.full.ServeHTTP(w, r)
		return
	}
	if r.Method == http.MethodGet && statusRoutes[r.URL.Path] {
		e.full.ServeHTTP(w, r)
		return
	}
	status, msg := http.StatusServiceUnavailable, "Agent is starting: "+e.stages.Summary()
	if e.ready.Load() {
		status, msg = http.StatusBadRequest, "The agent API is served over HTTPS now; this connection was opened before TLS was turned on"
	}
	e.log.Debug("request refused before the API serves commands", "method", r.Method, "path", r.URL.Path, "status", status)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(ipa.NewFault(status, msg))
}

// tlsSwitchListener accepts plain connections until use gives it a TLS
// configuration, then TLS ones.
type tlsSwitchListener struct {
	net.Listener
	cfg atomic.Pointer[tls.Config]
}

// use serves TLS with cfg on every connection accepted from now on. It
// offers HTTP/2 and HTTP/1.1 by ALPN, as http.Server.ServeTLS does.
func (l *tlsSwitchListener) use(cfg *tls.Config) {
	c := cfg.Clone()
	if len(c.NextProtos) == 0 {
		c.NextProtos = []string{"h2", "http/1.1"}
	}
	l.cfg.Store(c)
}

// Accept returns the next connection, wrapped in TLS once use was called.
func (l *tlsSwitchListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if cfg := l.cfg.Load(); cfg != nil {
		return tls.Server(c, cfg), nil
	}
	return c, nil
}
