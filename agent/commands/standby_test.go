package commands

import (
	"context"
	"encoding/json"
	"testing"
	"time"
)

// TestSimpleCommands covers the commands that need no disk: their
// status, result and, for power_off and run_image, the power action they
// ask for once answered.
func TestSimpleCommands(t *testing.T) {
	tests := []struct {
		command    string
		params     string
		wantResult string // JSON of command_result
		wantPower  string // "off", "reboot" or "" for none
	}{
		{"standby.sync", `{}`, `null`, ""},
		{"standby.get_partition_uuids", `{}`, `{}`, ""},
		{"standby.power_off", `{}`, `null`, "off"},
		{"standby.run_image", `{}`, `null`, "reboot"},
		{"poll.get_hardware_info", `{}`, `{"disks":[],"interfaces":[]}`, ""},
		{"service.get_service_steps", `{"node": {}, "ports": []}`, `{"hardware_manager_version":{"metalagent-builtin":"1.0"},"service_steps":{}}`, ""},
		{"standby.execute_bootc_install", `{"image_source": "oci://x"}`, `null`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.command, func(t *testing.T) {
			ta := newTestAgent(t, agentOptions{})
			power := make(chan bool, 1)
			ta.d.Power = func(reboot bool) { power <- reboot }
			res, err := ta.r.Execute(context.Background(), tt.command, params(t, tt.params), true)
			if err != nil {
				t.Fatal(err)
			}
			if tt.command == "standby.execute_bootc_install" {
				if res.CommandStatus != StatusFailed || errorType(res) != "CommandExecutionError" {
					t.Errorf("bootc: %s %+v, want FAILED: not implemented", res.CommandStatus, res.CommandError)
				}
				return
			}
			got, _ := json.Marshal(res.CommandResult)
			if res.CommandStatus != StatusSucceeded || string(got) != tt.wantResult {
				t.Errorf("%s %s %+v, want SUCCEEDED %s", res.CommandStatus, got, res.CommandError, tt.wantResult)
			}
			// The power action follows the answer by half a second.
			wait := time.Second
			if tt.wantPower != "" {
				wait = 5 * time.Second
			}
			select {
			case reboot := <-power:
				if want := map[bool]string{false: "off", true: "reboot"}[reboot]; want != tt.wantPower {
					t.Errorf("power action %s, want %q", want, tt.wantPower)
				}
			case <-time.After(wait):
				if tt.wantPower != "" {
					t.Errorf("no power action, want %s", tt.wantPower)
				}
			}
		})
	}
}
