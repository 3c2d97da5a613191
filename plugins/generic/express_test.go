package generic

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
	"github.com/metalagent/metalagent/plugin-sdk/tool/tooltest"
)

// TestEraseDevicesExpressFixture follows erase_devices_express's choices
// on the server fixture (nvme0n1, sda; sdb is read-only): which tools run,
// which disks are opened, and how failures are reported. The fixture's
// disks are not real, so every open fails with errOverwriteStub.
func TestEraseDevicesExpressFixture(t *testing.T) {
	crypto := func(t *testing.T) tooltest.Replies {
		return tooltest.Replies{
			idCtrl:      {{Stdout: recorded(t, "nvme-id-ctrl-crypto.json")}},
			formatCrypt: {{}},
		}
	}
	tests := []struct {
		name       string
		info       string
		discard    bool // sda's queue advertises discard
		replies    func(t *testing.T) tooltest.Replies
		inUse      string
		wantCalls  []string
		wantOpened []string // device names, in any order
		wantErr    string   // type, then substrings of the message
		wantMsg    []string
	}{
		{"nvme formats itself, sda gets its metadata erased", `{}`, false, crypto, "",
			[]string{idCtrl, formatCrypt}, []string{"sda"},
			"BlockDeviceEraseError", []string{`Failed to conduct an express erase on device(s): "/dev/sda": ` + errOverwriteStub.Error()}},
		{"sda discards first", `{}`, true, crypto, "",
			[]string{idCtrl, formatCrypt}, []string{"sda", "sda"},
			"BlockDeviceEraseError", []string{`"/dev/sda": ` + errOverwriteStub.Error()}},
		{"nvme format refused: metadata erase instead", `{}`, false,
			func(t *testing.T) tooltest.Replies {
				return tooltest.Replies{
					idCtrl:      {{Stdout: recorded(t, "nvme-id-ctrl-crypto.json")}},
					formatCrypt: {{Exit: 1, Stderr: recorded(t, "nvme-format-invalid-field.txt")}},
				}
			}, "",
			[]string{idCtrl, formatCrypt}, []string{"nvme0n1", "sda"},
			"BlockDeviceEraseError", []string{`"/dev/nvme0n1": secure erase failed: nvme format of /dev/nvme0n1 (ses 2, cryptographic erase): nvme format /dev/nvme0n1 -s 2 -f: exit code 1: NVMe status: INVALID_FIELD`,
				"fallback to metadata erase also failed: " + errOverwriteStub.Error(), `"/dev/sda": `}},
		{"nvme secure erase disabled", `{"agent_enable_nvme_secure_erase": false}`, false,
			func(*testing.T) tooltest.Replies { return nil }, "",
			nil, []string{"nvme0n1", "sda"},
			"BlockDeviceEraseError", []string{`"/dev/nvme0n1": ` + errOverwriteStub.Error()}},
		{"a disk in use stops everything", `{}`, false,
			func(*testing.T) tooltest.Replies { return nil }, "sda",
			nil, nil,
			"ProtectedDeviceError", []string{"erase_devices_express: nothing was erased", "sda is mounted"}},
	}
	root := loadFixture(t, "server")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := "0\n"
			if tt.discard {
				v = "2147450880\n"
			}
			if err := os.WriteFile(filepath.Join(root, "sys", "class", "block", "sda", "queue", "discard_max_bytes"), []byte(v), 0o644); err != nil {
				t.Fatal(err)
			}
			runner := tooltest.New(t, tt.replies(t))
			m, opened := secureEraseManager(t, root, runner)
			m.inUse = func(dev string) error {
				if tt.inUse != "" && filepath.Base(dev) == tt.inUse {
					return sdk.HardwareError("ProtectedDeviceError", "%s is mounted on /", tt.inUse)
				}
				return nil
			}
			_, err := m.Execute(context.Background(), sdk.ExecuteRequest{Method: stepEraseExpress, Kind: sdk.StepKindClean, Node: []byte(`{"driver_internal_info": ` + tt.info + `}`)})
			if diff := cmp.Diff(tt.wantCalls, runner.Calls()); diff != "" {
				t.Errorf("commands (-want +got):\n%s", diff)
			}
			var got []string
			for _, p := range *opened {
				got = append(got, filepath.Base(p))
			}
			slices.Sort(got)
			if diff := cmp.Diff(tt.wantOpened, got); diff != "" {
				t.Errorf("devices opened (-want +got):\n%s", diff)
			}
			if sdk.TypeOf(err) != tt.wantErr {
				t.Fatalf("error %v (%s), want %s", err, sdk.TypeOf(err), tt.wantErr)
			}
			for _, s := range tt.wantMsg {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
			if strings.Contains(err.Error(), "/dev/sdb") {
				t.Errorf("the read-only disk was erased: %v", err)
			}
		})
	}
}

// TestEraseDevicesExpressLoop erases two loop devices in one step: both
// discard every block (they read back as zeros, and their backing files
// are left sparse, which only a discard does), and their metadata is gone.
func TestEraseDevicesExpressLoop(t *testing.T) {
	a := newLoopDisk(t, 64*mib, true, writeGPT)
	b := newLoopDisk(t, 64*mib, false, writeGPT)
	for _, ld := range []loopDisk{a, b} {
		if n, err := readInt(filepath.Join("/sys/class/block", filepath.Base(ld.dev), "queue", "discard_max_bytes")); err != nil || n <= 0 {
			t.Skipf("%s cannot discard (%d, %v)", ld.dev, n, err)
		}
	}
	m, opened := liveManager(t, a.dev, b.dev)
	runner := tooltest.New(t, nil)
	m.sys.tools = runner
	res, err := m.Execute(context.Background(), sdk.ExecuteRequest{Method: stepEraseExpress, Kind: sdk.StepKindClean, Node: []byte(`{"uuid": "test"}`)})
	if err != nil || string(res) != "null" {
		t.Fatalf("erase_devices_express: %s, %v; want null", res, err)
	}
	if calls := runner.Calls(); len(calls) != 0 {
		t.Errorf("ran %q on loop devices", calls)
	}
	// Each disk is opened twice: for the discard, then for the metadata.
	got := opened()
	slices.Sort(got)
	want := []string{a.dev, a.dev, b.dev, b.dev}
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("opened (-want +got):\n%s", diff)
	}
	for _, ld := range []loopDisk{a, b} {
		if !all(readAt(t, ld.file, 0, ld.size), 0) {
			t.Errorf("%s does not read back as zeros", ld.dev)
		}
		var st syscall.Stat_t
		if err := syscall.Stat(ld.file, &st); err != nil {
			t.Fatal(err)
		}
		if used := st.Blocks * 512; used > ld.size/8 {
			t.Errorf("%s: %d of %d bytes still allocated in the backing file: no discard", ld.dev, used, ld.size)
		}
	}
	if parts := kernelPartitions(t, a.dev); len(parts) != 0 {
		t.Errorf("the kernel still has partitions %v", parts)
	}
}
