package config

import "testing"

// TestSandboxImpliesSimulatePower: --sandbox (or metalagent-sandbox)
// sets the directory and turns on simulated power, whatever
// --simulate-power says.
func TestSandboxImpliesSimulatePower(t *testing.T) {
	tests := []struct {
		name      string
		kernel    string
		args      []string
		wantDir   string
		wantPower bool
	}{
		{"neither", "", nil, "", false},
		{"flag", "", []string{"--sandbox", "/tmp/sb"}, "/tmp/sb", true},
		{"kernel parameter", "metalagent-sandbox=/run/sb", nil, "/run/sb", true},
		{"flag beats kernel", "metalagent-sandbox=/run/sb", []string{"--sandbox", "/tmp/sb"}, "/tmp/sb", true},
		{"explicitly not simulated", "", []string{"--sandbox", "/tmp/sb", "--simulate-power=false"}, "/tmp/sb", true},
		{"simulated power alone", "", []string{"--simulate-power"}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("t", isolated(t, tt.kernel, append([]string{"--standalone"}, tt.args...)...))
			if err != nil {
				t.Fatal(err)
			}
			if c.Sandbox != tt.wantDir || c.SimulatePower != tt.wantPower {
				t.Errorf("sandbox %q, simulate power %v; want %q, %v", c.Sandbox, c.SimulatePower, tt.wantDir, tt.wantPower)
			}
		})
	}
}
