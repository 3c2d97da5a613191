package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUsage(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name     string
		args     []string
		code     int
		inStderr string
	}{
		{"no command", nil, 2, "usage:"},
		{"unknown command", []string{"snapshot"}, 2, `unknown command "snapshot"`},
		{"capture without a directory", []string{"capture"}, 2, "want one fixture directory"},
		{"inventory with two directories", []string{"inventory", dir, dir}, 2, "want one fixture directory"},
		{"unknown flag", []string{"capture", "--redacted", dir}, 2, "unknown flag"},
		{"help", []string{"capture", "--help"}, 0, "--redact"},
		{"inventory of no fixture", []string{"inventory", filepath.Join(dir, "missing")}, 1, "no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), tt.args, &stdout, &stderr); code != tt.code {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tt.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.inStderr) {
				t.Errorf("stderr %q, want it to contain %q", stderr.String(), tt.inStderr)
			}
		})
	}
}

// TestCaptureAndInventory captures this machine with the command, prints
// the fixture's inventory and writes it as the golden file.
func TestCaptureAndInventory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "machine")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"capture", dir}, &stdout, &stderr); code != 0 {
		t.Fatalf("capture: exit code %d; stderr:\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "captured ") || stdout.Len() != 0 {
		t.Errorf("capture printed stdout %q, stderr %q", stdout.String(), stderr.String())
	}
	stdout.Reset()
	stderr.Reset()
	if code := run(context.Background(), []string{"inventory", "--golden", dir}, &stdout, &stderr); code != 0 {
		t.Fatalf("inventory: exit code %d; stderr:\n%s", code, stderr.String())
	}
	golden, err := os.ReadFile(filepath.Join(dir, goldenFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(golden, stdout.Bytes()) {
		t.Errorf("%s differs from what was printed", goldenFile)
	}
	var inv struct {
		Hostname string `json:"hostname"`
		CPU      struct {
			Count int `json:"count"`
		} `json:"cpu"`
	}
	if err := json.Unmarshal(golden, &inv); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if inv.Hostname != host || inv.CPU.Count == 0 {
		t.Errorf("inventory host name %q and %d CPUs, want %q and some", inv.Hostname, inv.CPU.Count, host)
	}

	stderr.Reset()
	if code := run(context.Background(), []string{"capture", dir}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "already holds") {
		t.Errorf("capture over a fixture: exit code %d, stderr %q; want 1 and a refusal", code, stderr.String())
	}
}
