package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"

	"github.com/metalagent/metalagent/agent/commands"
)

// encodedList is GET /v1/commands/'s body at one generation of the
// runner's results.
type encodedList struct {
	gen  uint64
	body []byte
}

// listCache keeps the last encoding of the command list: the conductor
// polls the list every few seconds (and after every lost answer) while it
// changes only when a command starts or ends.
type listCache struct {
	last atomic.Pointer[encodedList]
}

// body returns the list's JSON, encoding it only when the runner's
// results changed since the last encoding.
func (c *listCache) body(r *commands.Runner) ([]byte, error) {
	if l := c.last.Load(); l != nil && l.gen == r.Generation() {
		return l.body, nil
	}
	list, gen := r.ListAt()
	b, err := json.Marshal(map[string]any{"commands": list})
	if err != nil {
		return nil, fmt.Errorf("encode command list: %w", err)
	}
	b = append(b, '\n')
	// Keep the newest of concurrent encodings.
	for {
		old := c.last.Load()
		if old != nil && old.gen >= gen {
			break
		}
		if c.last.CompareAndSwap(old, &encodedList{gen: gen, body: b}) {
			break
		}
	}
	return b, nil
}

// Header values written on every list answer.
var (
	jsonContentType = []string{"application/json"}
	contentTypeKey  = http.CanonicalHeaderKey("Content-Type")
	contentLenKey   = http.CanonicalHeaderKey("Content-Length")
)

func (s *Server) listCommands(w http.ResponseWriter, r *http.Request) {
	b, err := s.list.body(s.Runner)
	if err != nil {
		s.fault(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	h := w.Header()
	h[contentTypeKey] = jsonContentType
	h[contentLenKey] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}
