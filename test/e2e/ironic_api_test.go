//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Microversions the rig speaks: the newest Ironic 21.4 offers for the
// REST API, and the one IPA uses for lookup (the first that returns an
// agent token).
const (
	apiVersion    = "1.82"
	lookupVersion = "1.62"
)

// Provision and power states as Ironic spells them.
const (
	stateEnroll       = "enroll"
	stateManageable   = "manageable"
	stateAvailable    = "available"
	stateCleaning     = "cleaning"
	stateCleanWait    = "clean wait"
	stateCleanFailed  = "clean failed"
	stateDeploying    = "deploying"
	stateDeployWait   = "wait call-back"
	stateDeployFailed = "deploy failed"
	stateActive       = "active"
	stateDeleting     = "deleting"
	stateError        = "error"
	stateInspecting   = "inspecting"
	stateInspectWait  = "inspect wait"
	stateInspectFail  = "inspect failed"
	powerOff          = "power off"
)

// ironicClient calls Ironic's REST API without authentication (noauth).
type ironicClient struct {
	base string // e.g. http://127.0.0.1:6385
	http *http.Client
}

func newIronicClient(base string) *ironicClient {
	return &ironicClient{base: base, http: &http.Client{Timeout: 30 * time.Second}}
}

// node is the part of Ironic's node resource the rig looks at.
type node struct {
	UUID                 string         `json:"uuid"`
	Name                 string         `json:"name"`
	ProvisionState       string         `json:"provision_state"`
	TargetProvisionState *string        `json:"target_provision_state"`
	PowerState           *string        `json:"power_state"`
	LastError            *string        `json:"last_error"`
	Maintenance          bool           `json:"maintenance"`
	MaintenanceReason    *string        `json:"maintenance_reason"`
	Properties           map[string]any `json:"properties"`
	InstanceInfo         map[string]any `json:"instance_info"`
	DriverInternalInfo   map[string]any `json:"driver_internal_info"`
	CleanStep            map[string]any `json:"clean_step"`
	DeployStep           map[string]any `json:"deploy_step"`
}

// str returns *p or "" for nil; Ironic sends null for unset fields.
func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// apiError is a non-2xx answer from Ironic.
type apiError struct {
	Method, Path string
	Status       int
	Message      string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s %s: HTTP %d: %s", e.Method, e.Path, e.Status, e.Message)
}

// do sends one request with the given microversion. body, if not nil, is
// sent as JSON; out, if not nil, receives the decoded answer.
func (c *ironicClient) do(ctx context.Context, version, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("X-OpenStack-Ironic-API-Version", version)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode >= 400 {
		return &apiError{Method: method, Path: path, Status: resp.StatusCode, Message: ironicFault(data)}
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return nil
}

// ironicFault extracts the faultstring from Ironic's error body
// {"error_message": "<JSON with faultstring>"}, or returns the raw body.
func ironicFault(body []byte) string {
	var outer struct {
		ErrorMessage string `json:"error_message"`
	}
	if json.Unmarshal(body, &outer) == nil && outer.ErrorMessage != "" {
		var inner struct {
			Faultstring string `json:"faultstring"`
		}
		if json.Unmarshal([]byte(outer.ErrorMessage), &inner) == nil && inner.Faultstring != "" {
			return inner.Faultstring
		}
		return outer.ErrorMessage
	}
	return strings.TrimSpace(string(body))
}

// createNode enrols a node from the given fields.
func (c *ironicClient) createNode(ctx context.Context, fields map[string]any) (*node, error) {
	var n node
	return &n, c.do(ctx, apiVersion, http.MethodPost, "/v1/nodes", fields, &n)
}

// createPort adds a port with the MAC address to the node.
func (c *ironicClient) createPort(ctx context.Context, nodeUUID, mac string) error {
	return c.do(ctx, apiVersion, http.MethodPost, "/v1/ports",
		map[string]any{"node_uuid": nodeUUID, "address": mac}, nil)
}

// getNode fetches one node by UUID or name.
func (c *ironicClient) getNode(ctx context.Context, ident string) (*node, error) {
	var n node
	return &n, c.do(ctx, apiVersion, http.MethodGet, "/v1/nodes/"+url.PathEscape(ident), nil, &n)
}

// patchOp is one JSON-patch operation.
type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// patchNode applies JSON-patch operations to a node.
func (c *ironicClient) patchNode(ctx context.Context, ident string, ops []patchOp) error {
	return c.do(ctx, apiVersion, http.MethodPatch, "/v1/nodes/"+url.PathEscape(ident), ops, nil)
}

// setProvisionState requests a provision state transition ("manage",
// "provide", "active", "deleted", "abort", ...).
func (c *ironicClient) setProvisionState(ctx context.Context, ident, target string) error {
	return c.do(ctx, apiVersion, http.MethodPut, "/v1/nodes/"+url.PathEscape(ident)+"/states/provision",
		map[string]any{"target": target}, nil)
}

// cleanStep is one step of a manual cleaning request.
type cleanStep struct {
	Interface string         `json:"interface"`
	Step      string         `json:"step"`
	Args      map[string]any `json:"args,omitempty"`
}

// String renders the step as interface.step.
func (s cleanStep) String() string { return s.Interface + "." + s.Step }

// manualClean starts manual cleaning of a manageable node with the given
// steps: PUT /v1/nodes/{node}/states/provision {"target": "clean",
// "clean_steps": [...]}.
func (c *ironicClient) manualClean(ctx context.Context, ident string, steps []cleanStep) error {
	return c.do(ctx, apiVersion, http.MethodPut, "/v1/nodes/"+url.PathEscape(ident)+"/states/provision",
		map[string]any{"target": "clean", "clean_steps": steps}, nil)
}

// interfaceValidation is one entry of GET /v1/nodes/{id}/validate.
type interfaceValidation struct {
	Result *bool  `json:"result"`
	Reason string `json:"reason"`
}

// validate runs the drivers' validation for the node.
func (c *ironicClient) validate(ctx context.Context, ident string) (map[string]interfaceValidation, error) {
	out := map[string]interfaceValidation{}
	return out, c.do(ctx, apiVersion, http.MethodGet, "/v1/nodes/"+url.PathEscape(ident)+"/validate", nil, &out)
}

// historyEvent is one entry of the node's history (errors Ironic recorded).
type historyEvent struct {
	CreatedAt string `json:"created_at"`
	Severity  string `json:"severity"`
	EventType string `json:"event_type"`
	Event     string `json:"event"`
}

// history returns the node's recorded events (API 1.78+).
func (c *ironicClient) history(ctx context.Context, ident string) ([]historyEvent, error) {
	var out struct {
		History []historyEvent `json:"history"`
	}
	err := c.do(ctx, apiVersion, http.MethodGet, "/v1/nodes/"+url.PathEscape(ident)+"/history?detail=true", nil, &out)
	return out.History, err
}

// lookupResult is the answer of the ramdisk lookup endpoint.
type lookupResult struct {
	Node struct {
		UUID         string         `json:"uuid"`
		InstanceInfo map[string]any `json:"instance_info"`
	} `json:"node"`
	Config map[string]any `json:"config"`
}

// lookup calls GET /v1/lookup the way an agent does. Only the rig's
// self-check uses it: the first lookup of a boot consumes the agent token.
func (c *ironicClient) lookup(ctx context.Context, mac string) (*lookupResult, error) {
	var out lookupResult
	return &out, c.do(ctx, lookupVersion, http.MethodGet, "/v1/lookup?addresses="+url.QueryEscape(mac), nil, &out)
}
