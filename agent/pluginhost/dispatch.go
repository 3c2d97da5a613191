package pluginhost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/metalagent/metalagent/agent/ipa"
	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// Dispatch runs a step or hardware method on the highest manager that
// implements it: managers answering "not supported" are skipped, any other
// answer (result or error) is final. Nobody implementing it gives
// HardwareManagerMethodNotFound.
func (h *Host) Dispatch(ctx context.Context, req sdk.ExecuteRequest) (json.RawMessage, error) {
	var skipped []string
	for _, m := range h.managers {
		res, err := m.hm.Execute(ctx, req)
		if err == nil {
			h.log.Debug("method handled", "method", req.Method, "manager", m.Name)
			return res, nil
		}
		if errors.Is(err, sdk.ErrNotSupported) {
			skipped = append(skipped, m.Name)
			h.log.Debug("manager does not support method; falling through", "method", req.Method, "manager", m.Name, "reason", err)
			continue
		}
		return nil, h.pluginError(m, req.Method, err)
	}
	return nil, ipa.New("HardwareManagerMethodNotFound", "No HardwareManager found to handle method: %s (tried %v)", req.Method, skipped)
}

// DispatchAll runs a hardware method on every manager that implements it,
// as IPA's dispatch_to_all_managers does, and returns the answers by manager
// name. Managers answering "not supported" are left out; the first other
// error ends the call.
func (h *Host) DispatchAll(ctx context.Context, req sdk.ExecuteRequest) (map[string]json.RawMessage, error) {
	out := map[string]json.RawMessage{}
	for _, m := range h.managers {
		res, err := m.hm.Execute(ctx, req)
		if errors.Is(err, sdk.ErrNotSupported) {
			continue
		}
		if err != nil {
			return nil, h.pluginError(m, req.Method, err)
		}
		out[m.Name] = res
	}
	if len(out) == 0 {
		return nil, ipa.New("HardwareManagerMethodNotFound", "No HardwareManager found to handle method: %s", req.Method)
	}
	return out, nil
}

// pluginError names the manager in an error and tells transport failures
// (a crashed or hung plugin) from the plugin's own errors.
func (h *Host) pluginError(m *Manager, method string, err error) error {
	if st, ok := status.FromError(err); ok && m.client != nil {
		switch st.Code() {
		case codes.Unavailable:
			// The process exit is noticed a moment after the broken
			// connection: wait briefly to report which it was.
			what := "stopped answering (connection lost)"
			for deadline := time.Now().Add(500 * time.Millisecond); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				if m.client.Exited() {
					what = "exited"
					break
				}
			}
			return &ipa.Error{Type: "PluginError", Code: 500, Message: "Hardware-manager plugin failed",
				Details: fmt.Sprintf("plugin %s %s while running %s: %s", m.Name, what, method, st.Message()), Err: err}
		case codes.DeadlineExceeded:
			return &ipa.Error{Type: "PluginError", Code: 500, Message: "Hardware-manager plugin failed",
				Details: fmt.Sprintf("plugin %s did not answer %s in time", m.Name, method), Err: err}
		}
	}
	return fmt.Errorf("%s: %s: %w", m.Name, method, err)
}

// StepSet is a merged step list: IPA's {manager name: [steps]} grouping,
// each step name appearing once.
type StepSet map[string][]sdk.Step

// Steps asks every manager for its steps of req.Kind and merges them: for
// one step name the entry of the manager with the higher support level
// wins, then the higher priority, then the manager name alphabetically.
func (h *Host) Steps(ctx context.Context, req sdk.StepsRequest) (StepSet, error) {
	type cand struct {
		step  sdk.Step
		m     *Manager
		order int
	}
	best := map[string]cand{}
	for i, m := range h.managers {
		cctx, cancel := h.callCtx(ctx)
		steps, err := m.hm.Steps(cctx, req)
		cancel()
		if errors.Is(err, sdk.ErrNotSupported) {
			continue
		}
		if err != nil {
			return nil, h.pluginError(m, "get_"+string(req.Kind)+"_steps", err)
		}
		for _, st := range steps {
			c, ok := best[st.Step]
			if !ok || better(m, st, c.m, c.step) {
				best[st.Step] = cand{step: st, m: m, order: i}
			}
		}
	}
	out := StepSet{}
	names := make([]string, 0, len(best))
	for n := range best {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c := best[n]
		out[c.m.Name] = append(out[c.m.Name], c.step)
	}
	return out, nil
}

func better(m *Manager, st sdk.Step, cm *Manager, cst sdk.Step) bool {
	if m.Level != cm.Level {
		return m.Level > cm.Level
	}
	if st.Priority != cst.Priority {
		return st.Priority > cst.Priority
	}
	return m.Name < cm.Name
}
