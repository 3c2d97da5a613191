package commands

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/metalagent/metalagent/agent/ipa"
)

func registerFlow(r *Runner) {
	r.Register("flow", "start_flow", Command{Async: true, Validate: r.validateFlow, Run: r.startFlow})
}

// flowStep is one "ext.command": {params} of a flow.
type flowStep struct {
	name   string
	params Params
}

// parseFlow reads the flow parameter: a list of objects, each mapping
// "ext.command" names to their params, run in the order written (an
// object may name several commands; their order is the JSON's).
func parseFlow(p Params) ([]flowStep, error) {
	var tasks []json.RawMessage
	if err := p.Decode("flow", &tasks); err != nil {
		return nil, err
	}
	if tasks == nil {
		return nil, ipa.New("InvalidCommandParamsError", "flow must be a list of {\"<extension>.<command>\": {params}} objects")
	}
	var steps []flowStep
	for i, raw := range tasks {
		dec := json.NewDecoder(bytes.NewReader(raw))
		if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
			return nil, ipa.New("InvalidCommandParamsError", "flow task %d is not an object", i)
		}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return nil, ipa.New("InvalidCommandParamsError", "flow task %d: %v", i, err)
			}
			name, _ := tok.(string)
			var params Params
			if err := dec.Decode(&params); err != nil {
				return nil, ipa.New("InvalidCommandParamsError", "flow task %d: params of %s must be an object: %v", i, name, err)
			}
			if params == nil {
				params = Params{}
			}
			steps = append(steps, flowStep{name: name, params: params})
		}
	}
	return steps, nil
}

// lookup finds command name ("ext.command") as Execute does, with IPA's
// refusals: no dot, unknown extension (404), unknown command.
func (r *Runner) lookup(name string) (Command, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lookupLocked(name)
}

// lookupLocked is lookup for a caller holding r.mu: a validator, which
// Execute calls with it held.
func (r *Runner) lookupLocked(name string) (Command, error) {
	ext, cmdName, ok := strings.Cut(name, ".")
	if !ok || ext == "" || cmdName == "" {
		return Command{}, ipa.New("InvalidCommandError", "Command name must be of the form <extension>.<name>, got %q", name)
	}
	cmds, ok := r.commands[ext]
	if !ok {
		return Command{}, ipa.New("RequestedObjectNotFoundError", "Extension with id %s not found.", ext)
	}
	cmd, ok := cmds[cmdName]
	if !ok {
		return Command{}, ipa.New("InvalidCommandParamsError", "Extension %s doesn't provide %s method", ext, cmdName)
	}
	return cmd, nil
}

// validateFlow checks, before the flow starts, that every command it
// names exists, as IPA's flow validator does. Execute calls it with r.mu
// held.
func (r *Runner) validateFlow(p Params) error {
	steps, err := parseFlow(p)
	if err != nil {
		return err
	}
	for _, s := range steps {
		if _, err := r.lookupLocked(s.name); err != nil {
			return err
		}
	}
	return nil
}

// startFlow runs the flow's commands one after the other, each to its end
// (async ones included), and fails on the first that fails. As in IPA the
// flow's commands run inside it: their results are not added to the
// agent's command list, only logged.
func (r *Runner) startFlow(ctx context.Context, log hclog.Logger, p Params) (any, error) {
	steps, err := parseFlow(p)
	if err != nil {
		return nil, err
	}
	for i, s := range steps {
		cmd, err := r.lookup(s.name)
		if err != nil {
			return nil, err
		}
		if cmd.Validate != nil {
			if err := cmd.Validate(s.params); err != nil {
				return nil, ipa.From(err, "InvalidCommandParamsError")
			}
		}
		slog := log.With("flow_step", i, "flow_command", s.name)
		slog.Info("flow command started")
		if _, err := safeRun(ctx, slog, cmd.Run, s.params); err != nil {
			var ierr *ipa.Error
			detail := err.Error()
			if errors.As(err, &ierr) {
				detail = ierr.Type + ": " + ierr.Error()
			}
			slog.Error("flow command failed", "error", detail)
			return nil, ipa.New("CommandExecutionError", "%s was failed: %s", s.name, detail)
		}
		slog.Info("flow command done")
		if ctx.Err() != nil {
			return nil, fmt.Errorf("flow stopped after %s: %w", s.name, ctx.Err())
		}
	}
	return nil, nil
}
