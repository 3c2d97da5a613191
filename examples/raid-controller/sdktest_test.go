package main

import (
	"bytes"
	"os"
	goexec "os/exec"
	"path/filepath"
	"testing"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
	"github.com/metalagent/metalagent/plugin-sdk/sdktest"
)

// conformanceState is testdata/state.json with one logical disk, so that
// the kit checks the disk the plugin adds to the inventory.
const conformanceState = `{
  "controller": "RAID.Integrated.1-1",
  "physical_disks": [
    {"id": "0:1:0", "size_gb": 100}, {"id": "0:1:1", "size_gb": 100},
    {"id": "0:1:4", "size_gb": 500}, {"id": "0:1:5", "size_gb": 500}
  ],
  "logical_disks": [
    {"name": "/dev/sdr0", "volume_name": "root", "raid_level": "1", "size_gb": 100,
     "physical_disks": ["0:1:4", "0:1:5"], "is_root_volume": true, "per_disk_gb": 100}
  ]
}
`

// raidSteps are the steps the plugin must list.
var raidSteps = map[sdk.StepKind][]string{
	sdk.StepKindClean:  {stepDelete, stepCreate},
	sdk.StepKindDeploy: {stepDelete, stepCreate, stepApply},
}

// conformanceOptions points the plugin at the state file at path (through
// its kernel parameter) and keeps it off this machine's disks. No step is
// declared safe: all three change the controller, so the kit executes
// nothing but its unknown method.
func conformanceOptions(path string) sdktest.Options {
	return sdktest.Options{
		HostConfig: sdk.HostConfig{
			AllowedDisks: []string{"/dev/sdktest-no-such-disk"},
			KernelParams: map[string]string{paramState: path},
		},
		ExpectSteps: raidSteps,
	}
}

// writeState writes conformanceState into a temporary directory and
// returns its path.
func writeState(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(p, []byte(conformanceState), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// checkRun checks the level and version the kit saw, and that the state
// file is as it was: the kit changed nothing.
func checkRun(t *testing.T, r *sdktest.Report, want sdk.SupportLevel, path string) {
	t.Helper()
	if r.Level != want || r.Version != (sdk.Version{Name: Name, Version: Version}) {
		t.Errorf("reported level %v, version %+v; want %v, %s %s", r.Level, r.Version, want, Name, Version)
	}
	b, err := os.ReadFile(path)
	switch {
	case want == sdk.SupportNone:
		if err == nil {
			t.Errorf("state file %s created", path)
		}
	case err != nil:
		t.Error(err)
	case !bytes.Equal(b, []byte(conformanceState)):
		t.Errorf("state file changed:\n%s", b)
	}
}

// TestConformance runs the SDK's conformance kit on the manager in
// process, across gRPC, with a controller and without one (level 0, which
// makes the host stop the plugin).
func TestConformance(t *testing.T) {
	t.Run("controller", func(t *testing.T) {
		path := writeState(t)
		checkRun(t, sdktest.Run(t, quietManager(), conformanceOptions(path)), sdk.SupportMainline, path)
	})
	t.Run("no-controller", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "state.json")
		checkRun(t, sdktest.Run(t, quietManager(), conformanceOptions(path)), sdk.SupportNone, path)
	})
}

// TestConformanceBinary builds the plugin and runs the kit on the
// executable, launched as the host launches it.
func TestConformanceBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the plugin")
	}
	goTool, err := goexec.LookPath("go")
	if err != nil {
		t.Skip(err)
	}
	bin := filepath.Join(t.TempDir(), "raid-controller")
	out, err := goexec.Command(goTool, "build", "-o", bin, "github.com/metalagent/metalagent/examples/raid-controller").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Run("controller", func(t *testing.T) {
		path := writeState(t)
		checkRun(t, sdktest.RunBinary(t, bin, conformanceOptions(path)), sdk.SupportMainline, path)
	})
	t.Run("no-controller", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "state.json")
		checkRun(t, sdktest.RunBinary(t, bin, conformanceOptions(path)), sdk.SupportNone, path)
	})
}
