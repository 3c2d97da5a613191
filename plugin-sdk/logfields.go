package sdk

import (
	"context"
	"maps"
	"slices"

	"github.com/hashicorp/go-hclog"
)

type logFieldsKey struct{}

// WithLogFields returns ctx carrying the host's log fields for a call.
func WithLogFields(ctx context.Context, fields map[string]string) context.Context {
	if len(fields) == 0 {
		return ctx
	}
	return context.WithValue(ctx, logFieldsKey{}, fields)
}

// LogFields returns the host's log fields carried by ctx (node,
// command_id), or nil.
func LogFields(ctx context.Context) map[string]string {
	f, _ := ctx.Value(logFieldsKey{}).(map[string]string)
	return f
}

// ContextLogger returns log with the host's log fields of ctx added, so a
// plugin's lines about a step carry the same node and command id as the
// agent's.
func ContextLogger(ctx context.Context, log hclog.Logger) hclog.Logger {
	f := LogFields(ctx)
	if len(f) == 0 {
		return log
	}
	args := make([]any, 0, 2*len(f))
	for _, k := range slices.Sorted(maps.Keys(f)) {
		args = append(args, k, f[k])
	}
	return log.With(args...)
}
