// Package api serves IPA's REST API on gorilla/mux: version discovery,
// status, and command execution with the agent token checked.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"
	"github.com/hashicorp/go-hclog"

	"github.com/metalagent/metalagent/agent/commands"
	"github.com/metalagent/metalagent/agent/ipa"
)

// maxBody bounds a command request (configdrives travel inline).
const maxBody = 128 << 20

// Status is GET /v1/status: IPA's two fields, unchanged, and the
// agent's own under "metalagent" (Ironic reads neither).
type Status struct {
	StartedAt float64 `json:"started_at"`
	Version   string  `json:"version"`
	// Metalagent is what Server.Details returns: the boot stages.
	Metalagent any `json:"metalagent,omitempty"`
}

// Server is the agent's API.
type Server struct {
	Runner  *commands.Runner
	Version string
	Started time.Time
	Logger  hclog.Logger
	// Details, when set, returns what GET /v1/status adds under
	// "metalagent" (the boot stages, see agent/stages). It is called on
	// every status request, from the request's goroutine.
	Details func() any

	mu            sync.RWMutex
	token         string
	tokenRequired bool
	// resultsLocked is set once a GET of command results carried a
	// token: from then on they need it (see tokenOK).
	resultsLocked atomic.Bool

	list listCache
}

// SetToken sets the agent token handed out by lookup ("" when there was
// none) and Ironic's agent_token_required. Once a token is known every
// command must carry it (see tokenOK).
func (s *Server) SetToken(token string, required bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token, s.tokenRequired = token, required
}

// Handler returns the API's routes.
func (s *Server) Handler() http.Handler {
	r := mux.NewRouter()
	r.StrictSlash(true)
	r.HandleFunc("/", s.root).Methods(http.MethodGet)
	r.HandleFunc("/v1/", s.v1).Methods(http.MethodGet)
	for _, prefix := range []string{"/v1", ""} {
		r.HandleFunc(prefix+"/status", s.status).Methods(http.MethodGet)
		r.HandleFunc(prefix+"/commands/", s.guardResults(s.listCommands)).Methods(http.MethodGet)
		r.HandleFunc(prefix+"/commands/", s.runCommand).Methods(http.MethodPost)
		r.HandleFunc(prefix+"/commands/{id}", s.guardResults(s.getCommand)).Methods(http.MethodGet)
	}
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		s.fault(w, req, http.StatusNotFound, "404 Not Found: The requested URL was not found on the server.")
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		s.fault(w, req, http.StatusMethodNotAllowed, "405 Method Not Allowed: The method is not allowed for the requested URL.")
	})
	return requestID(s.recoverer(s.listFirst(r, s.guardResults(s.listCommands))))
}

// listFirst answers GET /v1/commands/ and /commands/ before the router:
// the conductor polls the list, and gorilla/mux copies the request twice
// (route and variables in its context) for every request it routes. Any
// other request goes to the router, which answers these two paths the
// same way. list is the guarded list handler (see guardResults).
func (s *Server) listFirst(router http.Handler, list http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && (r.URL.Path == "/v1/commands/" || r.URL.Path == "/commands/") {
			list(w, r)
			return
		}
		router.ServeHTTP(w, r)
	})
}

// recoverer answers a panicking handler with a 500 fault and keeps
// serving.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if rec := recover(); rec != nil {
				s.Logger.Error("API handler panicked", "path", r.URL.Path, "panic", rec, "request_id", requestIDOf(w))
				s.fault(w, r, http.StatusInternalServerError, fmt.Sprintf("Internal error: %v", rec))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// fault answers with IPA's fault body and logs the refusal.
func (s *Server) fault(w http.ResponseWriter, r *http.Request, status int, msg string) {
	s.Logger.Warn("request refused", "method", r.Method, "path", r.URL.Path, "status", status, "fault", msg,
		"request_id", requestIDOf(w))
	writeJSON(w, status, ipa.NewFault(status, msg))
}

func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

type link struct {
	Href string `json:"href"`
	Rel  string `json:"rel"`
	Type string `json:"type,omitempty"`
}

func (s *Server) root(w http.ResponseWriter, r *http.Request) {
	v1 := map[string]any{"id": "v1", "links": []link{
		{Href: baseURL(r) + "/v1/", Rel: "self"},
		{Href: "https://docs.openstack.org/ironic-python-agent", Rel: "describedby", Type: "text/html"},
	}}
	writeJSON(w, http.StatusOK, map[string]any{
		"name":            "OpenStack Ironic Python Agent API",
		"description":     "Ironic Python Agent is a provisioning agent for OpenStack Ironic",
		"versions":        []any{v1},
		"default_version": v1,
	})
}

func (s *Server) v1(w http.ResponseWriter, r *http.Request) {
	b := baseURL(r)
	writeJSON(w, http.StatusOK, map[string]any{
		"id":       "v1",
		"links":    []link{{Href: b + "/v1/", Rel: "self"}},
		"commands": []link{{Href: b + "/v1/commands", Rel: "self"}, {Href: b + "/commands", Rel: "bookmark"}},
		"status":   []link{{Href: b + "/v1/status", Rel: "self"}, {Href: b + "/status", Rel: "bookmark"}},
		"media_types": []map[string]string{
			{"base": "application/json", "type": "application/vnd.openstack.ironic-python-agent.v1+json"},
		},
	})
}

func (s *Server) status(w http.ResponseWriter, _ *http.Request) {
	st := Status{
		StartedAt: float64(s.Started.UnixNano()) / 1e9,
		Version:   s.Version,
	}
	if s.Details != nil {
		st.Metalagent = s.Details()
	}
	writeJSON(w, http.StatusOK, st)
}

func wantWait(r *http.Request) bool {
	return strings.EqualFold(r.URL.Query().Get("wait"), "true")
}

func (s *Server) getCommand(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	res, err := s.Runner.Get(r.Context(), id, wantWait(r))
	if errors.Is(err, commands.ErrNotFound) {
		s.fault(w, r, http.StatusNotFound, fmt.Sprintf("Requested object not found: Command with id %s not found.", id))
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) runCommand(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		s.fault(w, r, http.StatusBadRequest, "Invalid request body: "+err.Error())
		return
	}
	if len(body) > maxBody {
		s.fault(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("Request body larger than %d bytes", maxBody))
		return
	}
	var req struct {
		Name   *string         `json:"name"`
		Params commands.Params `json:"params"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Name == nil || req.Params == nil {
		detail := "Missing or invalid name or params"
		if err != nil {
			detail += ": " + err.Error()
		}
		s.fault(w, r, http.StatusBadRequest, "Invalid request body: "+detail)
		return
	}
	if !s.tokenOK(w, r) {
		return
	}
	ctx := commands.WithRequestID(r.Context(), requestIDOf(w))
	res, err := s.Runner.Execute(ctx, *req.Name, req.Params, wantWait(r))
	var herr *commands.HTTPError
	if errors.As(err, &herr) {
		s.fault(w, r, herr.Status, herr.Message)
		return
	}
	if err != nil {
		s.fault(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// Serve serves the API on l until ctx ends, then shuts down gracefully.
func Serve(ctx context.Context, srv *http.Server, serve func() error) error {
	errc := make(chan error, 1)
	go func() { errc <- serve() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
}
