package api

import (
	"crypto/tls"
	"net"
	"net/http"
	"time"
)

// HTTPServer returns the http.Server for the API: s's routes, TLS with
// tlsConf when it is not nil (plain HTTP otherwise), and net/http's own
// error lines (failed TLS handshakes among them) as structured lines of
// s.Logger.
func (s *Server) HTTPServer(tlsConf *tls.Config) *http.Server {
	return &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 30 * time.Second,
		TLSConfig:         tlsConf,
		ErrorLog:          newErrorLog(s.Logger),
	}
}

// ServeOn serves srv on ln until srv is shut down: over TLS when
// srv.TLSConfig is set (its certificates), plain HTTP otherwise.
func ServeOn(srv *http.Server, ln net.Listener) error {
	if srv.TLSConfig != nil {
		return srv.ServeTLS(ln, "", "")
	}
	return srv.Serve(ln)
}
