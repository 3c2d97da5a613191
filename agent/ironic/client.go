// Package ironic is the agent's client of the Ironic API: version
// discovery, node lookup and heartbeats.
package ironic

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/metalagent/metalagent/agent/metrics"
)

// API microversions the agent relies on.
const (
	minVersion          = "1.31"
	versionAgentVersion = "1.36"
	versionAgentToken   = "1.62"
	versionVerifyCA     = "1.68"
	// versionStatus adds agent_status and agent_status_message to
	// heartbeats (Ironic 21.0+; 21.4 is at 1.82).
	versionStatus = "1.72"
)

// Client talks to one Ironic API.
type Client struct {
	// BaseURL is Ironic's API URL without /v1.
	BaseURL string
	// HTTP is the client used for every request.
	HTTP *http.Client
	// RequestID, when set, is sent as X-OpenStack-Request-ID.
	RequestID string
	// PinnedVersion, when set, replaces version discovery.
	PinnedVersion string
	// Logger receives the client's lines.
	Logger hclog.Logger
	// Metrics counts lookups and heartbeats by outcome; nil records
	// nothing.
	Metrics *metrics.Metrics
	// OnLookupRetry, if set, is told of every failed lookup attempt that
	// LookupUntil retries: its number (from 1), error and the pause
	// before the next one.
	OnLookupRetry func(attempt int, err error, retryIn time.Duration)

	mu      sync.Mutex
	version string
}

// StatusError is an unexpected HTTP status from Ironic, with Ironic's
// faultstring when it sent one.
type StatusError struct {
	Op     string
	Status int
	Fault  string
	// hint is what the refusal most likely means (see Hint).
	hint string
}

// Hint says what the refusal most likely means for the operator (a
// lookup 404: a node Ironic does not know, or not waiting for an agent),
// or "". The boot stages report it as the failure's cause.
func (e *StatusError) Hint() string { return e.hint }

// Error describes the failed call.
func (e *StatusError) Error() string {
	if e.Fault != "" {
		return fmt.Sprintf("%s: Ironic answered %d: %s", e.Op, e.Status, e.Fault)
	}
	return fmt.Sprintf("%s: Ironic answered %d", e.Op, e.Status)
}

// Version returns Ironic's maximum API microversion, discovered once with
// GET / and cached on success. On failure it returns the minimum version
// the agent speaks, and tries again next time.
func (c *Client) Version(ctx context.Context) string {
	if c.PinnedVersion != "" {
		return c.PinnedVersion
	}
	c.mu.Lock()
	v := c.version
	c.mu.Unlock()
	if v != "" {
		return v
	}
	var root struct {
		DefaultVersion struct {
			Version string `json:"version"`
		} `json:"default_version"`
	}
	if err := c.do(ctx, "discover API version", http.MethodGet, "/", "", nil, &root, http.StatusOK); err != nil {
		c.log().Warn("cannot discover Ironic API version; using the minimum", "version", minVersion, "error", err)
		return minVersion
	}
	v = root.DefaultVersion.Version
	if v == "" {
		return minVersion
	}
	c.mu.Lock()
	c.version = v
	c.mu.Unlock()
	c.log().Debug("Ironic API version discovered", "version", v)
	return v
}

func (c *Client) log() hclog.Logger {
	if c.Logger == nil {
		return hclog.NewNullLogger()
	}
	return c.Logger
}

// do sends one request and decodes a JSON answer into out when it has one
// of the wanted statuses.
func (c *Client) do(ctx context.Context, op, method, path, version string, body, out any, want ...int) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("%s: encode request: %w", op, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, rd)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	if version != "" {
		req.Header.Set("X-OpenStack-Ironic-API-Version", version)
	}
	if c.RequestID != "" {
		req.Header.Set("X-OpenStack-Request-ID", c.RequestID)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%s: read answer: %w", op, err)
	}
	ok := false
	for _, w := range want {
		ok = ok || resp.StatusCode == w
	}
	if !ok {
		return &StatusError{Op: op, Status: resp.StatusCode, Fault: faultString(data)}
	}
	if out != nil && len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s: decode answer: %w", op, err)
		}
	}
	return nil
}

// faultString extracts the faultstring of Ironic's error body
// {"error_message": "<JSON with faultstring>"}.
func faultString(body []byte) string {
	var e struct {
		ErrorMessage string `json:"error_message"`
	}
	if json.Unmarshal(body, &e) != nil || e.ErrorMessage == "" {
		s := strings.TrimSpace(string(body))
		if len(s) > 300 {
			s = s[:300] + "..."
		}
		return s
	}
	var inner struct {
		FaultString string `json:"faultstring"`
	}
	if json.Unmarshal([]byte(e.ErrorMessage), &inner) == nil && inner.FaultString != "" {
		return inner.FaultString
	}
	return e.ErrorMessage
}

// minVer returns the lower of two microversions "1.x".
func minVer(a, b string) string {
	if versionLess(a, b) {
		return a
	}
	return b
}

// versionLess compares microversions "major.minor" numerically.
func versionLess(a, b string) bool {
	var am, an, bm, bn int
	fmt.Sscanf(a, "%d.%d", &am, &an)
	fmt.Sscanf(b, "%d.%d", &bm, &bn)
	if am != bm {
		return am < bm
	}
	return an < bn
}

func query(kv ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	return q.Encode()
}
