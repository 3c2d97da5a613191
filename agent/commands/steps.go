package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/metalagent/metalagent/agent/ipa"
	"github.com/metalagent/metalagent/agent/metrics"
	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// stepFamily describes one of IPA's step extensions (clean, deploy,
// service): they differ only in names.
type stepFamily struct {
	kind      sdk.StepKind
	ext       string
	errorType string // IPA's class for unexpected step failures
}

var families = []stepFamily{
	{sdk.StepKindClean, "clean", "CleaningError"},
	{sdk.StepKindDeploy, "deploy", "DeploymentError"},
	{sdk.StepKindService, "service", "ServicingError"},
}

func registerSteps(r *Runner, d *Deps) {
	for _, f := range families {
		r.Register(f.ext, "get_"+f.ext+"_steps", Command{Run: f.getSteps(d)})
		r.Register(f.ext, "execute_"+f.ext+"_step", Command{Async: true, Validate: f.validate, Run: f.executeStep(d)})
	}
}

// getSteps answers {"<kind>_steps": {manager: [steps]}, "hardware_manager_version": {...}}.
func (f stepFamily) getSteps(d *Deps) Func {
	return func(ctx context.Context, log hclog.Logger, p Params) (any, error) {
		steps, err := d.Host.Steps(ctx, sdk.StepsRequest{Kind: f.kind, Node: p["node"], Ports: p["ports"]})
		if err != nil {
			return nil, err
		}
		n := 0
		for _, s := range steps {
			n += len(s)
		}
		log.Info("steps listed", "kind", f.kind, "count", n)
		return map[string]any{
			string(f.kind) + "_steps":  steps,
			"hardware_manager_version": d.Host.Versions(),
		}, nil
	}
}

// stepParam is the "step" parameter as Ironic sends it.
type stepParam struct {
	Step      string          `json:"step"`
	Interface string          `json:"interface"`
	Args      json.RawMessage `json:"args"`
}

func (f stepFamily) validate(p Params) error {
	var st stepParam
	if err := p.Decode("step", &st); err != nil {
		return err
	}
	if st.Step == "" {
		return ipa.New("InvalidCommandParamsError", "parameter step must be an object with a non-empty \"step\"")
	}
	return nil
}

// executeStep checks the hardware-manager versions, dispatches the step to
// the highest manager implementing it and answers
// {"<kind>_result": ..., "<kind>_step": <step as received>}.
func (f stepFamily) executeStep(d *Deps) Func {
	return func(ctx context.Context, log hclog.Logger, p Params) (any, error) {
		var st stepParam
		if err := p.Decode("step", &st); err != nil {
			return nil, err
		}
		// As IPA caches the node on every step, for the commands that
		// get none.
		d.SetNode(p["node"])
		var want map[string]string
		if err := decodeVersions(p, f.ext+"_version", &want); err != nil {
			return nil, err
		}
		if have := d.Host.Versions(); len(want) > 0 && !maps.Equal(want, have) {
			return nil, ipa.New("VersionMismatch", "Current versions: %v, versions used by ironic: %v", have, want)
		}
		args := st.Args
		if len(args) == 0 || string(args) == "null" {
			args = json.RawMessage("{}")
		}
		log = log.With("step", st.Step, "interface", st.Interface)
		if st.Step != "write_image" {
			// Any other step may change the disks (erase, RAID): the image
			// written before no longer counts as written (unlike IPA, whose
			// cached image id survives a fast-track cleaning).
			d.setImage("", "")
		}
		log.Info("running step")
		start := time.Now()
		res, err := d.Host.Dispatch(ctx, sdk.ExecuteRequest{
			Method: st.Step, Kind: f.kind, Args: args, Node: p["node"], Ports: p["ports"],
		})
		d.Metrics.StepDone(string(f.kind), st.Step, metrics.OutcomeOf(err), time.Since(start))
		if err != nil {
			var ierr *ipa.Error
			if errors.As(err, &ierr) || sdk.TypeOf(err) != "" {
				return nil, err
			}
			return nil, ipa.New(f.errorType, "Unexpected exception performing %s step %s: %v", f.ext, st.Step, err)
		}
		var result any
		if len(res) > 0 {
			if err := json.Unmarshal(res, &result); err != nil {
				return nil, fmt.Errorf("step %s: decode result: %w", st.Step, err)
			}
		}
		return map[string]any{
			f.ext + "_result": result,
			f.ext + "_step":   json.RawMessage(p["step"]),
		}, nil
	}
}
