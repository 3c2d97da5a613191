package sandbox

import "context"

// commandIDKey is the context key of the agent command's id.
type commandIDKey struct{}

// WithCommandID returns ctx carrying the id of the agent command that runs
// under it, for the records of the actions it asks for.
func WithCommandID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, commandIDKey{}, id)
}

// CommandID is the command id ctx carries, "" when none.
func CommandID(ctx context.Context) string {
	id, _ := ctx.Value(commandIDKey{}).(string)
	return id
}
