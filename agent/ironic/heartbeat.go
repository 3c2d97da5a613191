package ironic

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// HeartbeatRequest is the body of POST /v1/heartbeat/{node}.
type HeartbeatRequest struct {
	CallbackURL   string `json:"callback_url"`
	AgentToken    string `json:"agent_token,omitempty"`
	AgentVersion  string `json:"agent_version,omitempty"`
	AgentVerifyCA string `json:"agent_verify_ca,omitempty"`
	// AgentStatus ("start", "end" or "error"; any other value is a 400)
	// and AgentStatusMessage are stored by Ironic in the node's
	// driver_internal_info (API 1.72). IPA does not send them; the agent
	// sends its boot stages' summary (see agent/stages).
	AgentStatus        string `json:"agent_status,omitempty"`
	AgentStatusMessage string `json:"agent_status_message,omitempty"`
}

// validAgentStatus are the agent_status values Ironic accepts.
var validAgentStatus = map[string]bool{"start": true, "end": true, "error": true}

// Heartbeat sends one heartbeat. Fields are sent only when the Ironic API
// version accepts them: agent_version from 1.36, agent_verify_ca from
// 1.68, agent_status and agent_status_message from 1.72 (an invalid
// agent_status is dropped, not sent). The version header is the lowest
// that carries what is sent. Refusals are *StatusError with a hint.
func (c *Client) Heartbeat(ctx context.Context, nodeUUID string, hb HeartbeatRequest) error {
	detected := c.Version(ctx)
	ver := minVer(detected, versionVerifyCA)
	if versionLess(detected, versionAgentVersion) {
		hb.AgentVersion = ""
	}
	if versionLess(detected, versionVerifyCA) {
		hb.AgentVerifyCA = ""
	}
	if !validAgentStatus[hb.AgentStatus] {
		hb.AgentStatus = ""
	}
	if versionLess(detected, versionStatus) {
		hb.AgentStatus, hb.AgentStatusMessage = "", ""
	}
	if hb.AgentStatus != "" || hb.AgentStatusMessage != "" {
		ver = versionStatus
	}
	err := c.do(ctx, "heartbeat", http.MethodPost, "/v1/heartbeat/"+url.PathEscape(nodeUUID), ver, hb, nil, http.StatusAccepted, http.StatusOK)
	var se *StatusError
	if errors.As(err, &se) {
		se.hint = heartbeatHint(se, nodeUUID)
	}
	c.Metrics.Heartbeat(err)
	return err
}

// heartbeatHint says what Ironic's refusal of a heartbeat most likely
// means, from its status and faultstring (Ironic 21.4's texts).
func heartbeatHint(se *StatusError, nodeUUID string) string {
	f := strings.ToLower(se.Fault)
	switch {
	case se.Status == http.StatusNotFound:
		return fmt.Sprintf("Ironic does not know node %s any more (deleted?)", nodeUUID)
	case se.Status == http.StatusConflict:
		return "the node is locked by another Ironic operation; the next heartbeat will do"
	case se.Status == http.StatusServiceUnavailable:
		return "Ironic has no free conductor worker (overloaded); the next heartbeat will do"
	case strings.Contains(f, "agent token"):
		return "Ironic refused the agent token: it handed the token to an earlier boot or start of this agent " +
			"(agent restarted without a reboot?), so it refuses this one; power-cycle the node through Ironic for a new token"
	case strings.Contains(f, "callback_url"):
		return "Ironic holds another callback URL for this node (from an earlier agent, or the advertised address changed); " +
			"it takes a new one only after it powered the node off"
	case strings.Contains(f, "agent_verify_ca"):
		return "Ironic holds another certificate for this agent (from an earlier start); it takes a new one only after it powered the node off"
	case strings.Contains(f, "tls is required"):
		return "Ironic requires TLS ([agent]require_tls) but the callback URL is http://: enable auto-TLS or --listen-tls"
	case strings.Contains(f, "not recognised"):
		return "Ironic refused a field for the API version used: is ipa-ironic-api-version pinned higher than this Ironic?"
	case se.Status == http.StatusBadRequest && strings.Contains(f, "conductor"):
		return "Ironic has no conductor for this node (its driver or conductor group): " + se.Fault
	}
	return ""
}

// SupportsAutoTLS reports whether Ironic's API takes agent_verify_ca
// (1.68), the condition of IPA's auto-TLS, and the version it went by.
// A failed version discovery counts as the minimum version: no.
func (c *Client) SupportsAutoTLS(ctx context.Context) (bool, string) {
	v := c.Version(ctx)
	return !versionLess(v, versionVerifyCA), v
}

// Heartbeater sends heartbeats in the background: the first at once, then
// every heartbeat_timeout × a random factor in [0.3, 0.6], and a forced one
// soon after Force (at least MinForcedGap after the last success). Failures
// are logged and retried; Ironic outages never stop it.
type Heartbeater struct {
	Client   *Client
	NodeUUID string
	// Timeout is Ironic's heartbeat_timeout.
	Timeout time.Duration
	// Request returns the heartbeat body to send (callback URL, token...).
	Request func() HeartbeatRequest
	// MinForcedGap is the least time between a success and a forced
	// heartbeat (IPA: 5 s).
	MinForcedGap time.Duration
	// ErrorRetry is the pause after a failed heartbeat.
	ErrorRetry time.Duration
	// OnResult, if set, is called after every attempt.
	OnResult func(err error)
	Logger   hclog.Logger

	once   sync.Once
	forced chan struct{}
}

func (h *Heartbeater) init() {
	h.once.Do(func() { h.forced = make(chan struct{}, 1) })
}

// Force asks for a heartbeat soon, as IPA does after every async command.
func (h *Heartbeater) Force() {
	h.init()
	select {
	case h.forced <- struct{}{}:
	default:
	}
}

// Interval returns the next normal heartbeat interval.
func (h *Heartbeater) Interval() time.Duration {
	return time.Duration(float64(h.Timeout) * (0.3 + 0.3*rand.Float64()))
}

// Run heartbeats until ctx ends.
func (h *Heartbeater) Run(ctx context.Context) {
	h.init()
	log := h.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	gap := h.MinForcedGap
	if gap <= 0 {
		gap = 5 * time.Second
	}
	retry := h.ErrorRetry
	if retry <= 0 {
		retry = 5 * time.Second
	}
	var lastOK time.Time
	next := time.Now()
	for {
		wait := time.Until(next)
		timer := time.NewTimer(max(wait, 0))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-h.forced:
			timer.Stop()
			if d := time.Until(lastOK.Add(gap)); d > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(d):
				}
			}
		case <-timer.C:
		}
		start := time.Now()
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := h.Client.Heartbeat(cctx, h.NodeUUID, h.Request())
		cancel()
		if h.OnResult != nil {
			h.OnResult(err)
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			next = time.Now().Add(min(retry, h.Interval()))
			log.Warn("heartbeat failed; will retry", "error", err, "retry_in", time.Until(next).Round(time.Millisecond))
			continue
		}
		lastOK = time.Now()
		next = lastOK.Add(h.Interval())
		log.Debug("heartbeat accepted", "took", time.Since(start).Round(time.Millisecond), "next_in", time.Until(next).Round(time.Second))
	}
}
