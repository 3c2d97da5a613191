package agent

import (
	"context"
	"net"

	"github.com/metalagent/metalagent/agent/metrics"
)

// startMetrics serves the agent's metrics when the configuration asks
// for them, and returns them (nil when off). A listener that cannot be
// opened is logged and the agent runs on without metrics: they never stop
// a deployment.
func (a *Agent) startMetrics(ctx context.Context) *metrics.Metrics {
	if !a.cfg.Metrics {
		return nil
	}
	log := a.log.Named("metrics")
	ln, err := net.Listen("tcp", a.cfg.MetricsAddress)
	if err != nil {
		log.Error("cannot serve metrics; running without them", "address", a.cfg.MetricsAddress, "error", err)
		return nil
	}
	m := metrics.New()
	go func() {
		if err := m.Serve(ctx, ln, log); err != nil {
			log.Error("metrics server stopped", "error", err)
		}
	}()
	log.Info("serving metrics", "address", ln.Addr().String(), "path", metrics.Path)
	return m
}
