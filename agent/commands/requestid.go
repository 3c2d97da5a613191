package commands

import "context"

// requestIDKey is the context key of the API request's id.
type requestIDKey struct{}

// WithRequestID returns ctx carrying the id of the API request that asks
// for a command (X-OpenStack-Request-ID), so that the command's log lines
// carry it as request_id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id ctx carries, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
