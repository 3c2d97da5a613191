package api

import (
	"crypto/subtle"
	"net/http"

	"github.com/metalagent/metalagent/agent/ipa"
)

// unauthorized is IPA's faultstring for a refused token (werkzeug's
// Unauthorized with IPA's message); Ironic looks for "agent_token" only
// in other faults, so the text must stay as it is.
const unauthorized = "401 Unauthorized: Token invalid."

// tokenProblem says why a request's agent_token is refused, "" when it is
// accepted. The rules: with a known token the request must carry exactly
// it (compared in constant time), whatever agent_token_required says
// (IPA 9.4 still let a token-less request through when Ironic did not
// require tokens; newer IPA does not, nor does any Ironic since Victoria
// send such requests). Without a known token, a request with a token is
// refused (IPA compares None with it), and so is every request when
// Ironic requires tokens (lookup handed the token to an earlier boot:
// no legitimate caller lacks one). Otherwise (standalone) a token-less
// request passes.
func (s *Server) tokenProblem(r *http.Request) string {
	s.mu.RLock()
	token, required := s.token, s.tokenRequired
	s.mu.RUnlock()
	got := r.URL.Query().Get("agent_token")
	switch {
	case token == "" && got != "":
		return "the request carries a token but the agent has none"
	case token == "" && required:
		return "the agent has no token (lookup handed it to an earlier boot) and Ironic requires one"
	case token == "":
		return ""
	case got == "":
		return "no agent_token in the request"
	case subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1:
		return "agent_token does not match the token from lookup"
	}
	return ""
}

// tokenOK checks the request's token; on refusal it answers IPA's 401
// fault and logs why, without the token.
func (s *Server) tokenOK(w http.ResponseWriter, r *http.Request) bool {
	problem := s.tokenProblem(r)
	if problem == "" {
		return true
	}
	s.Logger.Warn("request refused: agent token invalid", "method", r.Method, "path", r.URL.Path,
		"remote", r.RemoteAddr, "problem", problem)
	writeJSON(w, http.StatusUnauthorized, ipa.NewFault(http.StatusUnauthorized, unauthorized))
	return false
}

// guardResults protects the command results (GET /v1/commands/...) much
// as IPA 10.2+ does: Ironic 21.4 reads them without a token, so they stay
// open until a read carries the valid token (a newer conductor); from then
// on every read must carry it, since results can hold logs and other
// details. Unlike IPA, a wrong token does not lock them, so that a
// stranger cannot lock Ironic 21.4 out of its own results.
func (s *Server) guardResults(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.resultsLocked.Load() {
			if r.URL.Query().Get("agent_token") == "" {
				next(w, r)
				return
			}
			if !s.tokenOK(w, r) {
				return
			}
			if !s.resultsLocked.Swap(true) {
				s.Logger.Info("a command-result read carried the agent token; results now require it")
			}
			next(w, r)
			return
		}
		if s.tokenOK(w, r) {
			next(w, r)
		}
	}
}
