package api

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"

	"github.com/google/uuid"
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
// otherwise. Handlers read it back with requestIDOf, and put it in the
// context of the commands they start, so that the command's lines carry
// it. (It is not put in the request's context here: that copies the
// request, a cost every poll of the command list would pay.)
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
		next.ServeHTTP(w, r)
	})
}

// requestIDOf returns the request id the answer on w carries.
func requestIDOf(w http.ResponseWriter) string {
	if v := w.Header()[requestIDKey]; len(v) > 0 {
		return v[0]
	}
	return ""
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

// newRequestID returns a fresh "req-<uuid4>", formatted in place (one
// allocation: every answer to a request without an id pays for it).
func newRequestID() string {
	var u [16]byte
	_, _ = rand.Read(u[:])  // never fails (crypto/rand since Go 1.24)
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	var b [40]byte
	copy(b[:], "req-")
	hex.Encode(b[4:12], u[0:4])
	b[12] = '-'
	hex.Encode(b[13:17], u[4:6])
	b[17] = '-'
	hex.Encode(b[18:22], u[6:8])
	b[22] = '-'
	hex.Encode(b[23:27], u[8:10])
	b[27] = '-'
	hex.Encode(b[28:40], u[10:16])
	return string(b[:])
}
