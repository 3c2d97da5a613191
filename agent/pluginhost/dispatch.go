package pluginhost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/metalagent/metalagent/agent/ipa"
	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// Dispatch runs a step or hardware method on the highest manager that
// implements it: managers answering "not supported" are skipped, and so are
// plugins out of service (failed, disabled); any other answer (result or
// error) is final. A step has the step timeout, a hardware method the call
// timeout. Nobody implementing it gives HardwareManagerMethodNotFound, or a
// PluginError naming the plugins out of service, which may be the ones
// that implement it.
func (h *Host) Dispatch(ctx context.Context, req sdk.ExecuteRequest) (json.RawMessage, error) {
	var skipped []string
	var down []*Manager
	for _, m := range h.managers {
		res, err := h.execute(ctx, m, req)
		switch {
		case err == nil:
			h.log.Debug("method handled", "method", req.Method, "manager", m.Name)
			return res, nil
		case errors.Is(err, errOutOfService):
			down = append(down, m)
			h.log.Warn("plugin out of service; skipped", "method", req.Method, "plugin", m.Name, "reason", err)
		case errors.Is(err, sdk.ErrNotSupported):
			skipped = append(skipped, m.Name)
			h.log.Debug("manager does not support method; falling through", "method", req.Method, "manager", m.Name, "reason", err)
		default:
			return nil, err
		}
	}
	if len(down) > 0 {
		return nil, h.downError(req.Method, down, skipped)
	}
	return nil, ipa.New("HardwareManagerMethodNotFound", "No HardwareManager found to handle method: %s (tried %v)", req.Method, skipped)
}

// downError explains that no manager in service handles method while some
// plugins are out of service.
func (h *Host) downError(method string, down []*Manager, skipped []string) error {
	var known, others []string
	for _, m := range down {
		what := fmt.Sprintf("%s (%v)", m.Name, m.proc.lastError())
		if m.proc.implements(method) {
			known = append(known, what)
		} else {
			others = append(others, what)
		}
	}
	if len(known) > 0 {
		return pluginErr(nil, "%s is implemented only by plugins out of service: %s", method, strings.Join(known, "; "))
	}
	return pluginErr(nil, "no hardware manager in service handles %s (tried %v); plugins out of service, which may implement it: %s",
		method, skipped, strings.Join(others, "; "))
}

// DispatchAll runs a hardware method on every manager that implements it,
// as IPA's dispatch_to_all_managers does, and returns the answers by manager
// name. Managers answering "not supported" are left out, plugins out of
// service skipped with a warning; the first other error ends the call.
func (h *Host) DispatchAll(ctx context.Context, req sdk.ExecuteRequest) (map[string]json.RawMessage, error) {
	out := map[string]json.RawMessage{}
	for _, m := range h.managers {
		res, err := h.execute(ctx, m, req)
		switch {
		case errors.Is(err, errOutOfService):
			h.log.Warn("plugin out of service; skipped", "method", req.Method, "plugin", m.Name, "reason", err)
			continue
		case errors.Is(err, sdk.ErrNotSupported):
			continue
		case err != nil:
			return nil, err
		}
		out[m.Name] = res
	}
	if len(out) == 0 {
		return nil, ipa.New("HardwareManagerMethodNotFound", "No HardwareManager found to handle method: %s", req.Method)
	}
	return out, nil
}

// StepSet is a merged step list: IPA's {manager name: [steps]} grouping,
// each step name appearing once.
type StepSet map[string][]sdk.Step

// Steps asks every manager in service for its steps of req.Kind and merges
// them: for one step name the entry of the manager with the higher support
// level wins, then the higher priority, then the manager name
// alphabetically. Plugins out of service are skipped with a warning.
func (h *Host) Steps(ctx context.Context, req sdk.StepsRequest) (StepSet, error) {
	type cand struct {
		step sdk.Step
		m    *Manager
	}
	best := map[string]cand{}
	for _, m := range h.managers {
		steps, err := h.steps(ctx, m, req)
		switch {
		case errors.Is(err, errOutOfService):
			h.log.Warn("plugin out of service; its steps are not listed", "kind", req.Kind, "plugin", m.Name, "reason", err)
			continue
		case errors.Is(err, sdk.ErrNotSupported):
			continue
		case err != nil:
			return nil, err
		}
		for _, st := range steps {
			c, ok := best[st.Step]
			if !ok || better(m, st, c.m, c.step) {
				best[st.Step] = cand{step: st, m: m}
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
