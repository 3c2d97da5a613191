package pluginhost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/metalagent/metalagent/agent/ipa"
	"github.com/metalagent/metalagent/agent/metrics"
	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// errDeadline is the cause of a context ended by the host's own per-call
// deadline, as opposed to the caller's.
var errDeadline = errors.New("plugin call deadline")

// call runs fn against m's manager within deadline d (0: none beyond
// ctx's). For a plugin, a missed deadline kills the process and a lost
// process (crash, exit) is noticed; either fails the call with a
// PluginError naming the plugin, and the plugin is restarted in the
// background. A plugin not in service answers errOutOfService. The
// manager's own errors are returned wrapped with its name and the method.
func (h *Host) call(ctx context.Context, m *Manager, method string, d time.Duration, fn func(context.Context, sdk.HardwareManager) error) (err error) {
	start, outcome := time.Now(), metrics.Error
	defer func() { h.opts.Metrics.PluginCall(m.Name, method, outcome, time.Since(start)) }()
	hm, inst, gen := m.builtin, (*instance)(nil), uint64(0)
	if m.proc != nil {
		if inst, gen, err = m.proc.acquire(ctx); err != nil {
			if errors.Is(err, errOutOfService) {
				outcome = metrics.OutOfService
			}
			return err
		}
		hm = inst.hm
	}
	cctx, cancel := context.WithCancel(ctx)
	deadline := time.Now().Add(d)
	if d > 0 {
		cctx, cancel = context.WithDeadlineCause(ctx, deadline, errDeadline)
	}
	defer cancel()
	err = fn(cctx, hm)
	switch {
	case err == nil:
		outcome = metrics.Success
		return nil
	case errors.Is(err, sdk.ErrNotSupported):
		outcome = metrics.NotSupported
	}
	if d > 0 && ctx.Err() == nil && missed(cctx, deadline, err) {
		outcome = metrics.Timeout
		perr := pluginErr(err, "%s %s did not answer %s within %s", kindOf(m), m.Name, method, d)
		if m.proc != nil {
			m.proc.fail(gen, perr)
		}
		return perr
	}
	if inst != nil {
		if what, ok := lost(err, inst); ok {
			msg := err.Error()
			if st, ok := status.FromError(err); ok {
				msg = st.Message()
			}
			outcome = metrics.Crashed
			perr := pluginErr(err, "plugin %s %s while running %s: %s", m.Name, what, method, msg)
			m.proc.fail(gen, perr)
			return perr
		}
	}
	return fmt.Errorf("%s: %s: %w", m.Name, method, err)
}

// missed reports whether a call failed because the host's own deadline
// passed. gRPC's own timer for the deadline may fire a moment before the
// context's, so a DeadlineExceeded status at the deadline counts too.
func missed(cctx context.Context, deadline time.Time, err error) bool {
	if errors.Is(context.Cause(cctx), errDeadline) {
		return true
	}
	if d, ok := cctx.Deadline(); !ok || !d.Equal(deadline) {
		return false // the caller's deadline is earlier: not ours
	}
	st, ok := status.FromError(err)
	isDeadline := errors.Is(err, context.DeadlineExceeded) || (ok && st.Code() == codes.DeadlineExceeded)
	return isDeadline && !time.Now().Before(deadline.Add(-10*time.Millisecond))
}

// lost reports whether err means the plugin process is gone or its
// connection broken, and which.
func lost(err error, inst *instance) (string, bool) {
	if st, ok := status.FromError(err); ok && st.Code() == codes.Unavailable {
		// The process exit is noticed a moment after the broken
		// connection: wait briefly to report which it was.
		for deadline := time.Now().Add(500 * time.Millisecond); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if inst.client.Exited() {
				return "exited", true
			}
		}
		return "stopped answering (connection lost)", true
	}
	if inst.client.Exited() {
		return "exited", true
	}
	return "", false
}

func kindOf(m *Manager) string {
	if m.proc == nil {
		return "builtin manager"
	}
	return "plugin"
}

// pluginErr returns IPA's PluginError with the given details.
func pluginErr(err error, format string, a ...any) *ipa.Error {
	e := ipa.New("PluginError", format, a...)
	e.Err = err
	return e
}

// execTimeout is the deadline of an Execute call: the step timeout for a
// step, the call timeout for a hardware method (no step kind).
func (h *Host) execTimeout(req sdk.ExecuteRequest) time.Duration {
	if req.Kind == "" {
		return h.opts.CallTimeout
	}
	return h.opts.StepTimeout
}

// logKeys are the caller's log fields a plugin is told, so that its lines
// about a call carry them too.
var logKeys = map[string]bool{"node": true, "command_id": true, "command": true, "request_id": true}

// logFields picks logKeys from the hclog logger in ctx (see
// hclog.WithContext), which the command runner puts there.
func logFields(ctx context.Context) map[string]string {
	args := hclog.FromContext(ctx).ImpliedArgs()
	var out map[string]string
	for i := 0; i+1 < len(args); i += 2 {
		k, ok := args[i].(string)
		if !ok || !logKeys[k] {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[k] = fmt.Sprint(args[i+1])
	}
	return out
}

// execute runs req on one manager.
func (h *Host) execute(ctx context.Context, m *Manager, req sdk.ExecuteRequest) (json.RawMessage, error) {
	if req.LogFields == nil {
		req.LogFields = logFields(ctx)
	}
	var res json.RawMessage
	err := h.call(ctx, m, req.Method, h.execTimeout(req), func(ctx context.Context, hm sdk.HardwareManager) error {
		var err error
		res, err = hm.Execute(ctx, req)
		return err
	})
	return res, err
}

// inventoryJSON returns a manager's inventory as JSON, as the plugin sent it
// when possible so fields unknown to this SDK survive.
func (h *Host) inventoryJSON(ctx context.Context, m *Manager) (json.RawMessage, error) {
	var raw json.RawMessage
	err := h.call(ctx, m, "get_inventory", h.opts.CallTimeout, func(ctx context.Context, hm sdk.HardwareManager) error {
		if r, ok := hm.(interface {
			InventoryJSON(context.Context) (json.RawMessage, error)
		}); ok {
			var err error
			raw, err = r.InventoryJSON(ctx)
			return err
		}
		inv, err := hm.Inventory(ctx)
		if err != nil {
			return err
		}
		raw, err = json.Marshal(inv)
		return err
	})
	return raw, err
}

// steps returns a manager's steps of one kind.
func (h *Host) steps(ctx context.Context, m *Manager, req sdk.StepsRequest) ([]sdk.Step, error) {
	var steps []sdk.Step
	err := h.call(ctx, m, "get_"+string(req.Kind)+"_steps", h.opts.CallTimeout, func(ctx context.Context, hm sdk.HardwareManager) error {
		var err error
		steps, err = hm.Steps(ctx, req)
		return err
	})
	if err == nil && m.proc != nil {
		m.proc.learn(steps)
	}
	return steps, err
}
