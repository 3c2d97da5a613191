package ironic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
)

// Node is the node as lookup returns it; Raw keeps every field.
type Node struct {
	UUID       string         `json:"uuid"`
	Properties map[string]any `json:"properties"`
	// InstanceInfo and DriverInternalInfo are as Ironic sent them.
	InstanceInfo       map[string]any  `json:"instance_info"`
	DriverInternalInfo map[string]any  `json:"driver_internal_info"`
	Raw                json.RawMessage `json:"-"`
}

// LookupResult is Ironic's answer to a lookup.
type LookupResult struct {
	Node   Node         `json:"node"`
	Config LookupConfig `json:"config"`
}

// Token returns the agent token when lookup handed out a real one.
func (r *LookupResult) Token() (string, bool) {
	if r.Config.AgentToken == nil {
		return "", false
	}
	t := *r.Config.AgentToken
	if len(t) < 32 || strings.Trim(t, "*") == "" {
		return "", false
	}
	return t, true
}

// Lookup asks Ironic once for the node owning one of the MAC addresses.
// Ironic's refusals are *StatusError with a hint naming the likely cause.
func (c *Client) Lookup(ctx context.Context, macs []string, nodeUUID string) (*LookupResult, error) {
	ver := minVer(c.Version(ctx), versionAgentToken)
	path := "/v1/lookup?" + query("addresses", strings.Join(macs, ","), "node_uuid", nodeUUID)
	res, err := c.lookup(ctx, path, ver)
	var se *StatusError
	if errors.As(err, &se) {
		se.hint = lookupHint(se, macs, nodeUUID)
	}
	c.Metrics.Lookup(err)
	return res, err
}

// lookup sends one lookup request and checks the answer.
func (c *Client) lookup(ctx context.Context, path, ver string) (*LookupResult, error) {
	var raw json.RawMessage
	if err := c.do(ctx, "lookup", http.MethodGet, path, ver, nil, &raw, http.StatusOK); err != nil {
		return nil, err
	}
	return ParseLookup(raw)
}

// ParseLookup decodes and checks a lookup answer (also what Ironic's
// continue_inspection answers from API 1.84): a node with a uuid, and a
// config with heartbeat_timeout. Unknown config keys are kept aside (see
// LookupConfig). An answer in the form before API 1.22, without "config"
// and with heartbeat_timeout beside the node, is converted, as IPA does.
func ParseLookup(raw []byte) (*LookupResult, error) {
	var whole struct {
		Node             json.RawMessage  `json:"node"`
		Config           *json.RawMessage `json:"config"`
		HeartbeatTimeout *float64         `json:"heartbeat_timeout"`
	}
	if err := json.Unmarshal(raw, &whole); err != nil {
		return nil, fmt.Errorf("lookup: decode answer: %w", err)
	}
	res := &LookupResult{}
	if len(whole.Node) > 0 {
		if err := json.Unmarshal(whole.Node, &res.Node); err != nil {
			return nil, fmt.Errorf("lookup: decode node: %w", err)
		}
		res.Node.Raw = whole.Node
	}
	switch {
	case whole.Config != nil:
		if err := json.Unmarshal(*whole.Config, &res.Config); err != nil {
			return nil, err
		}
	case whole.HeartbeatTimeout != nil:
		res.Config.HeartbeatTimeout = *whole.HeartbeatTimeout
	}
	if res.Node.UUID == "" {
		return nil, errors.New("lookup: answer has no node uuid")
	}
	if res.Config.HeartbeatTimeout <= 0 {
		return nil, errors.New("lookup: answer has no config.heartbeat_timeout")
	}
	return res, nil
}

// lookupHint says what Ironic's refusal of a lookup most likely means.
func lookupHint(se *StatusError, macs []string, nodeUUID string) string {
	who := fmt.Sprintf("a node with MACs [%s]", strings.Join(macs, " "))
	if nodeUUID != "" {
		who = fmt.Sprintf("node %s (or one with MACs [%s])", nodeUUID, strings.Join(macs, " "))
	}
	switch {
	case se.Status == http.StatusNotFound:
		return "Ironic does not know " + who + ": is the node in a state that waits for an agent? " +
			"(deploy wait, clean wait, inspect wait, rescue wait; with fast-track also enroll, manageable, available; " +
			"and are these MACs the node's ports?)"
	case se.Status == http.StatusConflict:
		return "the node is locked by another Ironic operation; retrying with a longer pause"
	case se.Status == http.StatusBadRequest:
		return "Ironic refused the lookup request (no valid MAC address, or no conductor for the node): " + se.Fault
	case se.Status >= 500:
		return fmt.Sprintf("Ironic's API failed (%d): is the conductor running? %s", se.Status, se.Fault)
	}
	return ""
}

// LookupUntil retries Lookup with randomised exponential backoff, starting
// at interval and capped at 60 s, until it succeeds or timeout passes, as
// IPA does. A 409 (node locked) adds a pause of 5, 10, then 30 s.
func (c *Client) LookupUntil(ctx context.Context, macs []string, nodeUUID string, timeout, interval time.Duration) (*LookupResult, error) {
	if interval <= 0 {
		interval = time.Second
	}
	deadline := time.Now().Add(timeout)
	var lastErr error
	conflicts := 0
	for attempt := 0; ; attempt++ {
		res, err := c.Lookup(ctx, macs, nodeUUID)
		if err == nil {
			return res, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		lastErr = err
		wait := backoffWait(attempt, interval, 60*time.Second)
		var se *StatusError
		if errors.As(err, &se) && se.Status == http.StatusConflict {
			wait += []time.Duration{5 * time.Second, 10 * time.Second, 30 * time.Second}[min(conflicts, 2)]
			conflicts++
		}
		if time.Now().Add(wait).After(deadline) {
			break
		}
		c.log().Debug("lookup failed; retrying", "attempt", attempt+1, "retry_in", wait.Round(time.Millisecond), "error", err)
		if c.OnLookupRetry != nil {
			c.OnLookupRetry(attempt+1, err, wait)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
	return nil, fmt.Errorf("lookup of %s did not succeed within %s: %w", strings.Join(macs, ","), timeout, lastErr)
}

// backoffWait is tenacity's wait_random_exponential as IPA uses it: random
// between 0 and min(max, base*2^n), but at least base.
func backoffWait(n int, base, max time.Duration) time.Duration {
	limit := base << min(n, 30)
	if limit > max || limit <= 0 {
		limit = max
	}
	w := time.Duration(rand.Int64N(int64(limit) + 1))
	if w < base {
		w = base
	}
	return w
}
