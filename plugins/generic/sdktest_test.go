package generic

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
	"github.com/metalagent/metalagent/plugin-sdk/sdktest"
)

// genericSteps are steps the generic manager must list (erase_devices is
// the host's).
var genericSteps = map[sdk.StepKind][]string{
	sdk.StepKindClean:  {"erase_devices_metadata", "erase_devices_express", "erase_pstore"},
	sdk.StepKindDeploy: {"erase_devices_metadata"},
}

// TestConformance runs the SDK's conformance kit on the manager reading
// the server fixture, across gRPC.
func TestConformance(t *testing.T) {
	m := newManager(fixtureSystem(loadFixture(t, "server"), "server1", map[string][]string{
		"bond0": {"10.0.0.5/24", "fe80::ae1f:6bff:fe00:1/64"},
	}), testLogger(t))
	m.open = func(path string) (*os.File, error) {
		t.Errorf("opened %s for writing", path)
		return nil, errors.New("no")
	}
	sdktest.Run(t, m, sdktest.Options{
		HostConfig:  sdk.HostConfig{BootIF: "01-ac-1f-6b-00-00-01"},
		ExpectSteps: genericSteps,
		SafeSteps: []sdktest.SafeStep{
			{Method: sdk.MethodCollectSystemLogs},
			{Method: sdk.MethodGetOSInstallDevice},
			// The fixture has no pstore and cannot mount one.
			{Method: "erase_pstore", Kind: sdk.StepKindClean},
		},
	})
}

// TestConformanceBinary builds the metalagent-generic executable and runs
// the kit on it as the host launches it, on this machine, with an allow-list
// naming no real disk so that nothing real is listed.
func TestConformanceBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the plugin")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip(err)
	}
	bin := filepath.Join(t.TempDir(), "metalagent-generic")
	out, err := exec.Command(goTool, "build", "-o", bin, "github.com/metalagent/metalagent/cmd/metalagent-generic").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	sdktest.RunBinary(t, bin, sdktest.Options{
		HostConfig:  sdk.HostConfig{AllowedDisks: []string{"/dev/sdktest-no-such-disk"}},
		ExpectSteps: genericSteps,
		SafeSteps:   []sdktest.SafeStep{{Method: sdk.MethodCollectSystemLogs}},
	})
}
