package main

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/hashicorp/go-hclog"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
	"github.com/metalagent/metalagent/plugin-sdk/sdktest"
)

// conformanceOptions keeps the plugin off this machine's disks: the
// allow-list and the plugin's own device list name a disk that does not
// exist, and matching by model is off (the kernel parameters win over the
// environment the binary inherits). The plugin has no harmless method to
// declare: erase_block_device is its only one, so the kit executes nothing
// but its unknown method.
func conformanceOptions() sdktest.Options {
	const none = "/dev/sdktest-no-such-disk"
	return sdktest.Options{
		HostConfig: sdk.HostConfig{
			AllowedDisks: []string{none},
			KernelParams: map[string]string{paramModel: "", paramDevices: none},
		},
	}
}

func checkLevel(t *testing.T, r *sdktest.Report) {
	t.Helper()
	if r.Level != sdk.SupportServiceProvider || r.Version != (sdk.Version{Name: Name, Version: Version}) {
		t.Errorf("reported level %v, version %+v; want %v, %s %s", r.Level, r.Version, sdk.SupportServiceProvider, Name, Version)
	}
}

// TestConformance runs the SDK's conformance kit on the manager in
// process, across gRPC.
func TestConformance(t *testing.T) {
	m := newManager()
	m.log = hclog.New(&hclog.LoggerOptions{Name: "custom-erase", Output: t.Output(), Level: hclog.Warn})
	m.checkInUse = func(dev string) error {
		t.Errorf("checked %s: the kit must not erase", dev)
		return nil
	}
	checkLevel(t, sdktest.Run(t, m, conformanceOptions()))
}

// TestConformanceBinary builds the plugin and runs the kit on the
// executable, launched as the host launches it.
func TestConformanceBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the plugin")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip(err)
	}
	bin := filepath.Join(t.TempDir(), "custom-erase")
	out, err := exec.Command(goTool, "build", "-o", bin, "github.com/metalagent/metalagent/examples/custom-erase").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	checkLevel(t, sdktest.RunBinary(t, bin, conformanceOptions()))
}
