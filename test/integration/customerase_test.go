package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// What examples/custom-erase reads and writes (its manager.go).
const (
	customEraseName    = "custom_erase_hardware_manager"
	customEraseDevices = "custom-erase-devices"
	customEraseMarker  = "CUSTOM-ERASE-MK\n"
)

// The loop-device test writes to loop devices it creates. It needs root
// and losetup and is skipped otherwise.

const (
	mib     = 1 << 20
	pattern = 0xA5
)

type loopDisk struct {
	dev, file string
	size      int64
}

// newLoopDisk attaches a file of size bytes filled with pattern to a free
// loop device, detached when the test ends.
func newLoopDisk(t *testing.T, size int64) loopDisk {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to set up loop devices")
	}
	if _, err := exec.LookPath("losetup"); err != nil {
		t.Skip("needs losetup")
	}
	file := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(file, bytes.Repeat([]byte{pattern}, int(size)), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "--find", "--show", file).CombinedOutput()
	if err != nil {
		t.Skipf("losetup: %v: %s", err, out)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() {
		if out, err := exec.Command("losetup", "-d", dev).CombinedOutput(); err != nil {
			t.Errorf("detach %s: %v: %s", dev, err, out)
		}
	})
	return loopDisk{dev: dev, file: file, size: size}
}

func (l loopDisk) read(t *testing.T, off, n int64) []byte {
	t.Helper()
	f, err := os.Open(l.file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	return b
}

func markers(n int64) []byte {
	return bytes.Repeat([]byte(customEraseMarker), int(n)/len(customEraseMarker))
}

// TestCustomEraseFallThroughToGeneric runs the host's erase_devices with
// the custom-erase and generic plugins and the host's builtin manager, on
// two loop devices: the one named in custom-erase-devices gets the
// markers, the other falls through to the generic plugin, which zeroes it.
func TestCustomEraseFallThroughToGeneric(t *testing.T) {
	mine := newLoopDisk(t, 8*mib)
	other := newLoopDisk(t, 8*mib)
	// The plugin inherits the environment; its variables must not add
	// disks or models.
	t.Setenv("CUSTOM_ERASE_MODEL", "")
	t.Setenv("CUSTOM_ERASE_DEVICES", "")
	dir := pluginDir(t, "custom-erase", "generic")
	h := startHost(t, dir, []string{mine.dev, other.dev}, map[string]string{customEraseDevices: mine.dev},
		"custom-erase", "generic", "metalagent-builtin")

	res, err := h.Dispatch(context.Background(), sdk.ExecuteRequest{
		Method: "erase_devices", Kind: sdk.StepKindClean, Args: json.RawMessage("{}"),
		Node: json.RawMessage(`{"uuid": "n1", "driver_internal_info": {"agent_erase_devices_iterations": 0}}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(res, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		mine.dev:  map[string]any{"erased_by": customEraseName, "method": "marker", "bytes_written": float64(2 * mib)},
		other.dev: nil,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("erase_devices result (-want +got):\n%s", diff)
	}
	if !bytes.Equal(mine.read(t, 0, mib), markers(mib)) || mine.read(t, 4*mib, 1)[0] != pattern {
		t.Error("the custom-erase disk was not marked, or was overwritten")
	}
	if !bytes.Equal(other.read(t, 0, other.size), make([]byte, other.size)) {
		t.Error("the other disk was not zeroed by the generic plugin")
	}
}
