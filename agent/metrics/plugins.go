package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// PluginStatus is one hardware manager's life-cycle state as the plugin
// host reports it.
type PluginStatus struct {
	// Name is the plugin's or builtin's name.
	Name string
	// State is its state (running, restarting, failed, disabled, refused).
	State string
	// Restarts counts the times the host started it again.
	Restarts int
}

// PluginStates are the states every plugin gets a state series for, so
// that a plugin's series keep existing when it changes state. They are
// the plugin host's states; a state not listed still gets its series.
var PluginStates = []string{"running", "restarting", "failed", "disabled", "refused"}

var (
	pluginStateDesc = prometheus.NewDesc(namespace+"_plugin_state",
		"1 for the state each hardware manager is in, 0 for the others.", []string{"plugin", "state"}, nil)
	pluginRestartsDesc = prometheus.NewDesc(namespace+"_plugin_restarts_total",
		"Times the plugin host started a plugin again after a crash or hang.", []string{"plugin"}, nil)
)

// pluginCollector reads the plugins' state and restarts from the plugin
// host at scrape time: the host already keeps them, and reading them
// there misses no transition.
type pluginCollector struct {
	mu     sync.Mutex
	source func() []PluginStatus
}

// WatchPlugins makes the plugin state and restart metrics read source at
// every scrape (the agent passes the plugin host's state); nil stops it.
func (m *Metrics) WatchPlugins(source func() []PluginStatus) {
	if m == nil {
		return
	}
	m.plugins.mu.Lock()
	defer m.plugins.mu.Unlock()
	m.plugins.source = source
}

// Describe sends the collector's descriptions.
func (c *pluginCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- pluginStateDesc
	ch <- pluginRestartsDesc
}

// Collect sends the current state and restarts of every plugin.
func (c *pluginCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	source := c.source
	c.mu.Unlock()
	if source == nil {
		return
	}
	seen := map[string]bool{}
	for _, p := range source() {
		if seen[p.Name] {
			continue // one series per name: the first (the one in the dispatch order) wins
		}
		seen[p.Name] = true
		known := false
		for _, s := range PluginStates {
			v := 0.0
			if s == p.State {
				v, known = 1, true
			}
			ch <- prometheus.MustNewConstMetric(pluginStateDesc, prometheus.GaugeValue, v, p.Name, s)
		}
		if !known {
			ch <- prometheus.MustNewConstMetric(pluginStateDesc, prometheus.GaugeValue, 1, p.Name, p.State)
		}
		ch <- prometheus.MustNewConstMetric(pluginRestartsDesc, prometheus.CounterValue, float64(p.Restarts), p.Name)
	}
}
