//go:build e2e

package e2e

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// The rig's checks of the manual-cleaning phases read the agent's and
// Ironic's logs. These tests pin the parsers to lines recorded from a
// real run (testdata/); they need neither root nor Ironic.

// TestOfferedCleanSteps reads the clean steps of a node's last step-cache
// refresh from the conductor's log.
func TestOfferedCleanSteps(t *testing.T) {
	tests := []struct {
		name, node string
		want       []string
	}{
		{"last refresh of the node wins", "8fadcaeb-17ed-4177-ae86-62fc7ef7df9d",
			[]string{"deploy.erase_devices", "deploy.erase_devices_metadata"}},
		{"another node's refresh", "00000000-1111-2222-3333-444444444444",
			[]string{"deploy.erase_devices_metadata", "deploy.erase_pstore"}},
		{"a node never refreshed", "99999999-1111-2222-3333-444444444444", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := offeredCleanSteps("testdata/ironic-clean-steps.log", tt.node)
			if !slices.Equal(got, tt.want) {
				t.Errorf("offeredCleanSteps = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestExplainCleanFailure names the requested steps the agent lacks.
func TestExplainCleanFailure(t *testing.T) {
	r := &rig{ironic: &ironicServer{logPath: "testdata/ironic-clean-steps.log"}, node: "8fadcaeb-17ed-4177-ae86-62fc7ef7df9d"}
	base := os.ErrInvalid
	tests := []struct {
		name  string
		steps []cleanStep
		want  string // "" means the error is returned unchanged
	}{
		{"offered step", []cleanStep{{Interface: "deploy", Step: "erase_devices"}}, ""},
		{"missing steps", []cleanStep{{Interface: "deploy", Step: "erase_devices_express"}, {Interface: "deploy", Step: "erase_pstore"}},
			"does not offer the requested clean step(s) [deploy.erase_devices_express deploy.erase_pstore]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := r.explainCleanFailure(base, tt.steps)
			if tt.want == "" {
				if err != base {
					t.Errorf("error changed to %v", err)
				}
				return
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q lacks %q", err, tt.want)
			}
		})
	}
}

// TestLoggedCommands lists the agent's commands with the step each
// execute_clean_step ran.
func TestLoggedCommands(t *testing.T) {
	got := loggedCommands("testdata/agent-clean-erase.log")
	want := []string{"clean.get_clean_steps", "clean.execute_clean_step(erase_devices)", "log.collect_system_logs"}
	if !slices.Equal(got, want) {
		t.Errorf("loggedCommands = %v, want %v", got, want)
	}
}

// TestOverwritePasses reads the generic plugin's finished passes, whose
// fields come in any order.
func TestOverwritePasses(t *testing.T) {
	tests := []struct {
		dev  string
		want []string
	}{
		{"/dev/loop1", []string{"1/2:random", "2/2:zero"}},
		{"/dev/loop7", nil},
	}
	for _, tt := range tests {
		t.Run(tt.dev, func(t *testing.T) {
			passes, err := overwritePasses("testdata/agent-clean-erase.log", tt.dev)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range passes {
				if p.duration == "" || p.mibPerS == "" {
					t.Errorf("pass %s lacks duration or mib_per_s: %+v", p.label(), p)
				}
				got = append(got, p.label())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("passes = %v, want %v", got, tt.want)
			}
		})
	}
}
