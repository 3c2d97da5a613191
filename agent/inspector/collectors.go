package inspector

import (
	"context"
	"sort"

	"github.com/hashicorp/go-hclog"
)

// collector fills its keys of the payload; an error is reported in the
// payload's "error" and the other collectors still run.
type collector struct {
	name    string
	collect func(ctx context.Context, e *env) error
}

// collectors are the known collectors by IPA's names.
var collectors = map[string]func(ctx context.Context, e *env) error{
	"default":       collectDefault,
	"logs":          collectLogs,
	"pci-devices":   collectPCIDevices,
	"numa-topology": collectNUMATopology,
	"dmi-decode":    collectDMI,
	"lldp":          collectLLDP,
}

// pick returns the collectors named, in the given order, and the names
// nobody knows.
func pick(names []string) (run []collector, unknown []string) {
	for _, n := range names {
		f, ok := collectors[n]
		if !ok {
			unknown = append(unknown, n)
			continue
		}
		run = append(run, collector{name: n, collect: f})
	}
	return run, unknown
}

// knownNames lists the collectors, sorted.
func knownNames() []string {
	out := make([]string, 0, len(collectors))
	for n := range collectors {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// env is what a collector works with.
type env struct {
	o     Options
	log   hclog.Logger
	names []string
	data  map[string]any
	added []string // keys set by the running collector, for its log line
}

// set puts a top-level key into the payload.
func (e *env) set(key string, v any) {
	e.data[key] = v
	e.added = append(e.added, key)
}
