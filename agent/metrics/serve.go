package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Path is where the metrics are served.
const Path = "/metrics"

// Handler serves the registry in Prometheus's exposition formats.
func (m *Metrics) Handler(log hclog.Logger) http.Handler {
	opts := promhttp.HandlerOpts{Registry: m.reg, ErrorHandling: promhttp.ContinueOnError}
	if log != nil {
		opts.ErrorLog = log.StandardLogger(&hclog.StandardLoggerOptions{ForceLevel: hclog.Warn})
	}
	return promhttp.HandlerFor(m.reg, opts)
}

// Serve serves Path on ln until ctx ends, then shuts down. Other paths
// answer 404.
func (m *Metrics) Serve(ctx context.Context, ln net.Listener, log hclog.Logger) error {
	mux := http.NewServeMux()
	mux.Handle("GET "+Path, m.Handler(log))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("serve metrics on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			return fmt.Errorf("shut down metrics server: %w", err)
		}
		return nil
	}
}
