package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
	"github.com/metalagent/metalagent/plugin-sdk/sdktest/loopdev"
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
	loopdev.Require(t)
	file := loopdev.NewFile(t, size, pattern)
	return loopDisk{dev: loopdev.Attach(t, file, false), file: file, size: size}
}

func (l loopDisk) read(t *testing.T, off, n int64) []byte {
	t.Helper()
	return loopdev.ReadAt(t, l.file, off, n)
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
