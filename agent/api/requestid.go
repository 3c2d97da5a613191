package api

import (
	"net/http"

	"github.com/google/uuid"

	"github.com/metalagent/metalagent/agent/commands"
)

// RequestIDHeader is OpenStack's request id header: Ironic's conductor
// may send its request's id in it, and OpenStack services answer every
// request with one.
const RequestIDHeader = "X-OpenStack-Request-ID"

// requestIDKey is RequestIDHeader in net/http's canonical form, the key
// of http.Header's map.
var requestIDKey = http.CanonicalHeaderKey(RequestIDHeader)

// requestID answers every request with an X-OpenStack-Request-ID: the
// request's own when it sent a well-formed one (req-<uuid>), a new one
// otherwise, and puts it in the request's context so that the lines of a
// command it starts carry it.
func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var id string
		if v := r.Header[requestIDKey]; len(v) > 0 {
			id = v[0]
		}
		if !validRequestID(id) {
			id = newRequestID()
		}
		w.Header()[requestIDKey] = []string{id}
		next.ServeHTTP(w, r.WithContext(commands.WithRequestID(r.Context(), id)))
	})
}

// validRequestID reports whether id has OpenStack's request id form,
// "req-" and a UUID in canonical form. Anything else (which could smuggle
// text into log lines) is ignored.
func validRequestID(id string) bool {
	const prefix = "req-"
	if len(id) != len(prefix)+36 || id[:len(prefix)] != prefix {
		return false
	}
	return uuid.Validate(id[len(prefix):]) == nil
}

// newRequestID returns a fresh "req-<uuid4>".
func newRequestID() string { return "req-" + uuid.NewString() }
