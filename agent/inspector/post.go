package inspector

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/metalagent/metalagent/agent/ironic"
)

// versionFullLookup is the Ironic API version from which
// /v1/continue_inspection answers with the whole lookup response (and
// hands out the agent token) instead of {"uuid"}.
const versionFullLookup = "1.84"

// answer is what the inspector or Ironic said to the data.
type answer struct {
	uuid   string
	lookup *ironic.LookupResult
}

// StatusError is a refusal of the data: the HTTP status and the message
// of the inspector's or Ironic's error body.
type StatusError struct {
	Status  int
	Message string
}

// Error describes the refusal.
func (e *StatusError) Error() string {
	return fmt.Sprintf("answered %d: %s", e.Status, e.Message)
}

// poster sends the payload to one URL with IPA's retry rule.
type poster struct {
	o      Options
	url    string
	ironic bool // Ironic's /v1/continue_inspection, not ironic-inspector
	log    hclog.Logger
}

// send posts data. To ironic-inspector (IPA 9.4's rule) only connection
// errors are retried, Attempts times RetryInterval apart. To Ironic
// (newer IPA's rule) 5xx and 409 are retried too, with a growing wait
// (RetryInterval to 6 RetryInterval). A status of 400 or more is
// returned as a StatusError.
func (p *poster) send(ctx context.Context, data map[string]any) (answer, error) {
	body, err := json.Marshal(data)
	if err != nil {
		return answer{}, fmt.Errorf("encode inspection data: %w", err)
	}
	version := ""
	if p.ironic && p.o.Ironic != nil && !versionBelow(p.o.Ironic.Version(ctx), versionFullLookup) {
		version = versionFullLookup
	}
	p.log.Info("posting inspection data", "bytes", len(body), "api_version", version)
	start := time.Now()
	for attempt := 1; ; attempt++ {
		status, resp, err := p.post(ctx, body, version)
		if ctx.Err() != nil {
			return answer{}, ctx.Err()
		}
		retry := err != nil || (p.ironic && (status >= 500 || status == http.StatusConflict))
		if retry && attempt < p.o.Attempts {
			wait := p.wait(attempt)
			p.log.Warn("posting inspection data failed; retrying", "attempt", attempt, "status", status,
				"error", errOrMessage(err, resp), "retry_in", wait)
			select {
			case <-ctx.Done():
				return answer{}, ctx.Err()
			case <-time.After(wait):
			}
			continue
		}
		if err != nil {
			return answer{}, fmt.Errorf("POST %s: %d attempts: %w", p.url, attempt, err)
		}
		took := time.Since(start).Round(time.Millisecond)
		if status >= 400 {
			msg := errorMessage(resp)
			p.log.Error("inspection data refused, proceeding with lookup", "status", status, "message", msg,
				"attempts", attempt, "duration", took)
			return answer{}, &StatusError{Status: status, Message: msg}
		}
		a, err := p.decode(resp, version)
		if err != nil {
			return answer{}, fmt.Errorf("POST %s: answer %d: %w", p.url, status, err)
		}
		p.log.Info("inspection data accepted", "status", status, "node", a.uuid, "attempts", attempt, "duration", took)
		return a, nil
	}
}

// wait is the pause after a failed attempt (1-based).
func (p *poster) wait(attempt int) time.Duration {
	if !p.ironic {
		return p.o.RetryInterval
	}
	// tenacity's wait_exponential(multiplier=1.5, min=5, max=30) for the
	// default interval of 5 s.
	w := p.o.RetryInterval * 3 / 10 << min(attempt-1, 20)
	return max(p.o.RetryInterval, min(w, 6*p.o.RetryInterval))
}

// post sends the body once and returns the status and the answer.
func (p *poster) post(ctx context.Context, body []byte, version string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if p.o.RequestID != "" {
		req.Header.Set("X-OpenStack-Request-ID", p.o.RequestID)
	}
	if version != "" {
		req.Header.Set("X-OpenStack-Ironic-API-Version", version)
	}
	resp, err := p.o.HTTP.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("read answer: %w", err)
	}
	return resp.StatusCode, data, nil
}

// decode reads a successful answer: {"uuid": ...}, or with
// versionFullLookup Ironic's lookup response.
func (p *poster) decode(body []byte, version string) (answer, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return answer{}, nil
	}
	if version != "" {
		res := &ironic.LookupResult{}
		if err := json.Unmarshal(body, res); err != nil {
			return answer{}, fmt.Errorf("decode lookup answer: %w", err)
		}
		var whole struct {
			Node json.RawMessage `json:"node"`
		}
		_ = json.Unmarshal(body, &whole)
		res.Node.Raw = whole.Node
		if res.Node.UUID == "" || res.Config.HeartbeatTimeout <= 0 {
			return answer{}, errors.New("lookup answer lacks node.uuid or config.heartbeat_timeout")
		}
		return answer{uuid: res.Node.UUID, lookup: res}, nil
	}
	var a struct {
		UUID string `json:"uuid"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return answer{}, fmt.Errorf("decode answer: %w", err)
	}
	return answer{uuid: a.UUID}, nil
}

// errorMessage extracts the message of an error body (see rawMessage) on
// one line, so that it stays on the log line with the status.
func errorMessage(body []byte) string {
	return strings.Join(strings.Fields(rawMessage(body)), " ")
}

// rawMessage extracts the message of an error body: ironic-inspector's
// {"error": {"message": ...}}, Ironic's {"error_message": "<JSON with
// faultstring>"}, else the text itself, shortened.
func rawMessage(body []byte) string {
	var insp struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
		ErrorMessage string `json:"error_message"`
	}
	if json.Unmarshal(body, &insp) == nil {
		if insp.Error.Message != "" {
			return insp.Error.Message
		}
		if insp.ErrorMessage != "" {
			// A faultstring from Ironic's own errors, a title (and
			// description) from the web framework's, such as a 404 for
			// an unknown path.
			var inner struct {
				FaultString string `json:"faultstring"`
				Title       string `json:"title"`
				Description string `json:"description"`
			}
			switch {
			case json.Unmarshal([]byte(insp.ErrorMessage), &inner) != nil:
				return insp.ErrorMessage
			case inner.FaultString != "":
				return inner.FaultString
			case inner.Title != "" && inner.Description != "":
				return inner.Title + ": " + inner.Description
			case inner.Title != "":
				return inner.Title
			}
			return insp.ErrorMessage
		}
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 500 {
		s = s[:500] + "..."
	}
	return s
}

func errOrMessage(err error, body []byte) string {
	if err != nil {
		return err.Error()
	}
	return errorMessage(body)
}

// versionBelow compares microversions "major.minor" numerically.
func versionBelow(a, b string) bool {
	var am, an, bm, bn int
	fmt.Sscanf(a, "%d.%d", &am, &an)
	fmt.Sscanf(b, "%d.%d", &bm, &bn)
	if am != bm {
		return am < bm
	}
	return an < bn
}
