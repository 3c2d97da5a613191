package ironic

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/url"
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
}

// Heartbeat sends one heartbeat. Fields are sent only when the Ironic API
// version accepts them.
func (c *Client) Heartbeat(ctx context.Context, nodeUUID string, hb HeartbeatRequest) error {
	detected := c.Version(ctx)
	ver := minVer(detected, versionVerifyCA)
	if versionLess(detected, versionAgentVersion) {
		hb.AgentVersion = ""
	}
	if versionLess(detected, versionVerifyCA) {
		hb.AgentVerifyCA = ""
	}
	err := c.do(ctx, "heartbeat", http.MethodPost, "/v1/heartbeat/"+url.PathEscape(nodeUUID), ver, hb, nil, http.StatusAccepted, http.StatusOK)
	c.Metrics.Heartbeat(err)
	return err
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
