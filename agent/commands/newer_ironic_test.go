package commands

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"

	"github.com/metalagent/metalagent/agent/config"
	"github.com/metalagent/metalagent/agent/pluginhost"
	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// stepsManager has a deploy step taking arguments (software RAID, as
// IPA's generic manager has) and a service step (a CPU burn-in), and
// answers each step with what it received.
type stepsManager struct{ fakeManager }

func (*stepsManager) Steps(_ context.Context, req sdk.StepsRequest) ([]sdk.Step, error) {
	switch req.Kind {
	case sdk.StepKindDeploy:
		return []sdk.Step{{Step: "apply_configuration", Interface: "raid", ArgsInfo: map[string]sdk.ArgInfo{
			"raid_config":     {Description: "The RAID configuration to apply.", Required: true},
			"delete_existing": {Description: "Delete existing RAID volumes first."},
		}}}, nil
	case sdk.StepKindService:
		return []sdk.Step{{Step: "burnin_cpu", Interface: "deploy", ArgsInfo: map[string]sdk.ArgInfo{
			"duration": {Description: "Seconds to load the CPUs."},
		}}}, nil
	}
	return nil, nil
}

func (*stepsManager) Execute(_ context.Context, req sdk.ExecuteRequest) (json.RawMessage, error) {
	if req.Method != "apply_configuration" && req.Method != "burnin_cpu" {
		return nil, sdk.NotSupported("no %s", req.Method)
	}
	var node struct {
		UUID string `json:"uuid"`
	}
	if err := json.Unmarshal(req.Node, &node); err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{"method": req.Method, "kind": req.Kind, "args": req.Args, "node": node.UUID})
}

// recordedRunner is a runner whose managers are stepsManager and the
// builtin one, with the versions the recorded requests carry.
func recordedRunner(t *testing.T) *Runner {
	t.Helper()
	d := &Deps{Config: &config.Config{}, Logger: hclog.NewNullLogger()}
	h, err := pluginhost.Start(context.Background(), pluginhost.Options{Builtins: []pluginhost.Builtin{
		{Name: "fake", Manager: &stepsManager{}},
		{Name: BuiltinName, Manager: Builtin(d)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	d.Host = h
	r := NewRunner(context.Background(), hclog.NewNullLogger())
	RegisterAll(r, d)
	return r
}

// recorded reads a request body a newer Ironic's conductor sends.
func recorded(t *testing.T, file string) (string, Params) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "ironic", file))
	if err != nil {
		t.Fatal(err)
	}
	var req struct {
		Name   string `json:"name"`
		Params Params `json:"params"`
	}
	if err := json.Unmarshal(b, &req); err != nil {
		t.Fatal(err)
	}
	return req.Name, req.Params
}

// TestNewerIronicStepRequests runs the step commands as Ironic 2023.2 and
// later send them. The recorded bodies (testdata/ironic) follow
// ironic/drivers/modules/agent_client.py (master of 2026-08):
// execute_deploy_step with a deploy template's step (its args, priority
// 95; node.as_dict with the configdrive unmasked), get_service_steps,
// and execute_service_step with service_version, the node's
// hardware_manager_version: a dict, or 0 after a failed
// get_service_steps (agent_client's fallback), or absent. IPA's
// service.py answers them like clean and deploy steps, and skips its
// version check when the version is falsy.
func TestNewerIronicStepRequests(t *testing.T) {
	const uuid = "1be26c0b-03f2-4d2e-ae87-c02d7f33c123"
	raid := map[string]any{
		"raid_config":     map[string]any{"logical_disks": []any{map[string]any{"size_gb": "MAX", "raid_level": "1", "controller": "software"}}},
		"delete_existing": true,
	}
	burnin := map[string]any{"interface": "deploy", "step": "burnin_cpu", "args": map[string]any{"duration": float64(60)},
		"abortable": false, "priority": float64(0)}
	tests := []struct {
		file       string
		wantName   string
		wantResult map[string]any
	}{
		{"execute_deploy_step-template.json", "execute_deploy_step", map[string]any{
			"deploy_result": map[string]any{"method": "apply_configuration", "kind": "deploy", "args": raid, "node": uuid},
			"deploy_step":   map[string]any{"interface": "raid", "step": "apply_configuration", "priority": float64(95), "args": raid},
		}},
		{"get_service_steps.json", "get_service_steps", map[string]any{
			"service_steps": map[string]any{"fake": []any{map[string]any{
				"step": "burnin_cpu", "interface": "deploy", "priority": float64(0), "reboot_requested": false, "abortable": false,
				"argsinfo": map[string]any{"duration": map[string]any{"description": "Seconds to load the CPUs.", "required": false}},
			}}},
			"hardware_manager_version": map[string]any{"fake_manager": "2.0", BuiltinName: "1.0"},
		}},
		{"execute_service_step.json", "execute_service_step", map[string]any{
			"service_result": map[string]any{"method": "burnin_cpu", "kind": "service", "args": map[string]any{"duration": float64(60)}, "node": uuid},
			"service_step":   burnin,
		}},
		{"execute_service_step-version-null.json", "execute_service_step", map[string]any{
			"service_result": map[string]any{"method": "burnin_cpu", "kind": "service", "args": map[string]any{"duration": float64(60)}, "node": uuid},
			"service_step":   burnin,
		}},
		{"execute_service_step-version-0.json", "execute_service_step", map[string]any{
			"service_result": map[string]any{"method": "burnin_cpu", "kind": "service", "args": map[string]any{"duration": float64(60)}, "node": uuid},
			"service_step":   burnin,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			r := recordedRunner(t)
			name, p := recorded(t, tt.file)
			res, err := r.Execute(context.Background(), name, p, true)
			if err != nil {
				t.Fatal(err)
			}
			if res.CommandStatus != StatusSucceeded || res.CommandName != tt.wantName {
				t.Fatalf("result = %+v (error %+v), want %s SUCCEEDED", res, res.CommandError, tt.wantName)
			}
			if diff := cmp.Diff(tt.wantResult, roundTrip(t, res.CommandResult)); diff != "" {
				t.Errorf("command_result (-want +got):\n%s", diff)
			}
		})
	}
}

// TestServiceVersionMismatch checks that a service step whose
// service_version differs from the managers' ends as IPA's does:
// CLEAN_VERSION_MISMATCH (Ironic then refreshes the steps).
func TestServiceVersionMismatch(t *testing.T) {
	r := recordedRunner(t)
	name, p := recorded(t, "execute_service_step.json")
	p["service_version"] = json.RawMessage(`{"generic_hardware_manager":"1.2"}`)
	res, err := r.Execute(context.Background(), name, p, true)
	if err != nil {
		t.Fatal(err)
	}
	if res.CommandStatus != StatusVersionMismatch || res.CommandError == nil || res.CommandError.Type != "VersionMismatch" {
		t.Errorf("result = %+v, error %+v", res, res.CommandError)
	}
}
