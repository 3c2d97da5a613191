package main

import "testing"

func TestRootDeviceExitCodes(t *testing.T) {
	empty := t.TempDir()
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"hints not JSON", []string{"root-device", "--hints", "{bad", "--cmdline-file", "/dev/null", "--plugin-dir", empty}, 2},
		{"unknown hint", []string{"root-device", "--hints", `{"colour": "red"}`, "--cmdline-file", "/dev/null", "--plugin-dir", empty}, 2},
		{"missing node file", []string{"root-device", "--node", "/nonexistent/node.json", "--cmdline-file", "/dev/null", "--plugin-dir", empty}, 2},
		{"no disk at all", []string{"root-device", "--cmdline-file", "/dev/null", "--plugin-dir", empty}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := run(tt.args); got != tt.want {
				t.Errorf("exit code %d, want %d", got, tt.want)
			}
		})
	}
}
