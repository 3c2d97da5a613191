package generic

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
	"github.com/metalagent/metalagent/plugin-sdk/tool/tooltest"
)

func TestVersionAndSupport(t *testing.T) {
	m := newManager(liveSystem(), testLogger(t))
	ctx := context.Background()
	level, err := m.EvaluateHardwareSupport(ctx, sdk.HostConfig{AllowedDisks: []string{"/dev/loop7"}, BootIF: "01-aa-bb-cc-dd-ee-ff"})
	if err != nil || level != sdk.SupportGeneric {
		t.Errorf("EvaluateHardwareSupport = %v, %v; want %v", level, err, sdk.SupportGeneric)
	}
	if c := m.config(); !c.allow.Allows("/dev/loop7") || c.allow.Allows("/dev/loop6") || c.bootIF != "01-aa-bb-cc-dd-ee-ff" {
		t.Errorf("configuration not kept: %+v", c)
	}
	v, err := m.Version(ctx)
	if want := (sdk.Version{Name: "generic_hardware_manager", Version: "1.1"}); err != nil || v != want {
		t.Errorf("Version = %+v, %v; want %+v", v, err, want)
	}
}

func TestSteps(t *testing.T) {
	tests := []struct {
		kind    sdk.StepKind
		want    string
		wantErr bool
	}{
		{sdk.StepKindClean, `[
			{"step":"erase_devices_metadata","priority":99,"interface":"deploy","reboot_requested":false,"abortable":true},
			{"step":"erase_devices_express","priority":0,"interface":"deploy","reboot_requested":false,"abortable":true},
			{"step":"erase_pstore","priority":0,"interface":"deploy","reboot_requested":false,"abortable":true}]`, false},
		{sdk.StepKindDeploy, `[{"step":"erase_devices_metadata","priority":0,"interface":"deploy","reboot_requested":false,"abortable":false}]`, false},
		{sdk.StepKindService, `[]`, false},
		{"rescue", ``, true},
	}
	m := newManager(liveSystem(), testLogger(t))
	for _, tt := range tests {
		steps, err := m.Steps(context.Background(), sdk.StepsRequest{Kind: tt.kind})
		if tt.wantErr {
			if !errors.Is(err, sdk.ErrInvalidArgument) {
				t.Errorf("%s: error %v, want invalid argument", tt.kind, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tt.kind, err)
		}
		got, _ := json.Marshal(steps)
		var g, w any
		json.Unmarshal(got, &g)
		if err := json.Unmarshal([]byte(tt.want), &w); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(w, g); diff != "" {
			t.Errorf("%s steps (-want +got):\n%s", tt.kind, diff)
		}
	}
}

func TestExecuteRejects(t *testing.T) {
	tests := []struct {
		name string
		req  sdk.ExecuteRequest
		kind error
	}{
		{"unknown method", sdk.ExecuteRequest{Method: "burnin_cpu", Kind: sdk.StepKindClean}, sdk.ErrNotSupported},
		{"other hardware method", sdk.ExecuteRequest{Method: "get_bmc_address"}, sdk.ErrNotSupported},
		{"arguments", sdk.ExecuteRequest{Method: "erase_devices_metadata", Args: json.RawMessage(`{"force": true}`)}, sdk.ErrInvalidArgument},
		{"express arguments", sdk.ExecuteRequest{Method: "erase_devices_express", Kind: sdk.StepKindClean, Args: json.RawMessage(`{"force": true}`)}, sdk.ErrInvalidArgument},
		{"express bad setting", sdk.ExecuteRequest{Method: "erase_devices_express", Kind: sdk.StepKindClean, Node: json.RawMessage(`{"driver_internal_info": {"agent_enable_nvme_secure_erase": "maybe"}}`)}, sdk.ErrInvalidArgument},
		{"erase_pstore arguments", sdk.ExecuteRequest{Method: "erase_pstore", Kind: sdk.StepKindClean, Args: json.RawMessage(`{"path": "/"}`)}, sdk.ErrInvalidArgument},
		{"express bad skip list", sdk.ExecuteRequest{Method: "erase_devices_express", Kind: sdk.StepKindClean, Node: json.RawMessage(`{"properties": {"skip_block_devices": [{"colour": "red"}]}}`)}, sdk.ErrInvalidArgument},
		{"erase_devices is the host's", sdk.ExecuteRequest{Method: "erase_devices", Kind: sdk.StepKindClean}, sdk.ErrNotSupported},
		{"arguments not an object", sdk.ExecuteRequest{Method: "erase_block_device", Args: json.RawMessage(`[1]`)}, sdk.ErrInvalidArgument},
		{"erase_block_device without a disk", sdk.ExecuteRequest{Method: "erase_block_device", Args: json.RawMessage(`{}`)}, sdk.ErrInvalidArgument},
		{"erase_block_device without a name", sdk.ExecuteRequest{Method: "erase_block_device", Args: json.RawMessage(`{"block_device": {"size": 5}}`)}, sdk.ErrInvalidArgument},
		{"erase_block_device disk not an object", sdk.ExecuteRequest{Method: "erase_block_device", Args: json.RawMessage(`{"block_device": "/dev/sda"}`)}, sdk.ErrInvalidArgument},
		{"erase_block_device other argument", sdk.ExecuteRequest{Method: "erase_block_device", Args: json.RawMessage(`{"block_device": {"name": "/dev/sda"}, "force": 1}`)}, sdk.ErrInvalidArgument},
		{"bad node", sdk.ExecuteRequest{Method: "erase_block_device", Args: json.RawMessage(`{"block_device": {"name": "/dev/sda"}}`), Node: json.RawMessage(`{"properties": 5}`)}, sdk.ErrInvalidArgument},
		{"bad iterations", sdk.ExecuteRequest{Method: "erase_block_device", Args: json.RawMessage(`{"block_device": {"name": "/dev/sda"}}`), Node: json.RawMessage(`{"driver_internal_info": {"agent_erase_devices_iterations": -1}}`)}, sdk.ErrInvalidArgument},
		{"bad zeroize", sdk.ExecuteRequest{Method: "erase_block_device", Args: json.RawMessage(`{"block_device": {"name": "/dev/sda"}}`), Node: json.RawMessage(`{"driver_internal_info": {"agent_erase_devices_zeroize": "perhaps"}}`)}, sdk.ErrInvalidArgument},
		{"bad skip list", sdk.ExecuteRequest{Method: "erase_devices_metadata", Node: json.RawMessage(`{"properties": {"skip_block_devices": [{"colour": "red"}]}}`)}, sdk.ErrInvalidArgument},
	}
	m := newManager(fixtureSystem(loadFixture(t, "server"), "h", nil), testLogger(t))
	m.open = func(path string) (*os.File, error) {
		t.Errorf("opened %s for writing", path)
		return nil, errors.New("no")
	}
	for _, tt := range tests {
		_, err := m.Execute(context.Background(), tt.req)
		if !errors.Is(err, tt.kind) {
			t.Errorf("%s: error %v, want %v", tt.name, err, tt.kind)
		}
	}
}

func TestOverwriteOptions(t *testing.T) {
	tests := []struct {
		info string
		want overwriteOptions
	}{
		{`{}`, overwriteOptions{passes: 1, zeroize: true}},
		{`{"agent_erase_devices_iterations": 0, "agent_erase_devices_zeroize": false, "disk_erasure_concurrency": 4, "agent_erase_skip_read_only": true}`,
			overwriteOptions{passes: 0, zeroize: false, skipReadOnly: true}},
		{`{"agent_erase_devices_iterations": "2", "agent_erase_devices_zeroize": "False"}`,
			overwriteOptions{passes: 2, zeroize: false}},
	}
	for _, tt := range tests {
		n, err := parseNode(json.RawMessage(`{"driver_internal_info": ` + tt.info + `}`))
		if err != nil {
			t.Fatal(err)
		}
		got, err := overwriteOptionsOf(n)
		if err != nil {
			t.Fatalf("%s: %v", tt.info, err)
		}
		if got != tt.want {
			t.Errorf("%s: %+v, want %+v", tt.info, got, tt.want)
		}
	}
}

func TestEraseTargets(t *testing.T) {
	root := loadFixture(t, "server")
	tests := []struct {
		name   string
		node   string
		vmedia string
		want   []string
	}{
		{"all", `{}`, "", []string{"/dev/nvme0n1", "/dev/sda", "/dev/sdb"}},
		{"skip list", `{"properties": {"skip_block_devices": [{"serial": "PHYF000000AB960CGN"}, {"volume_name": "root"}, {"rotational": true, "size": ">= 3000"}]}}`, "", []string{"/dev/nvme0n1"}},
		{"virtual media", `{}`, "../../nvme0n1", []string{"/dev/sda", "/dev/sdb"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			link := filepath.Join(root, "dev", "disk", "by-label", "ir-vfd-dev")
			os.Remove(link)
			if tt.vmedia != "" {
				os.MkdirAll(filepath.Dir(link), 0o755)
				if err := os.Symlink(tt.vmedia, link); err != nil {
					t.Fatal(err)
				}
			}
			m := newManager(fixtureSystem(root, "h", nil), testLogger(t))
			n, err := parseNode(json.RawMessage(tt.node))
			if err != nil {
				t.Fatal(err)
			}
			disks, err := m.eraseTargets(context.Background(), m.log, n)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range disks {
				got = append(got, d.Name)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("targets (-want +got):\n%s", diff)
			}
		})
	}
}

// TestEraseFixtureNeverWrites runs the erase steps against the fixture,
// whose device nodes are not block devices: every disk must fail the
// in-use check, and nothing may be opened for writing.
func TestEraseFixtureNeverWrites(t *testing.T) {
	m := newManager(fixtureSystem(loadFixture(t, "server"), "h", nil), testLogger(t))
	m.open = func(path string) (*os.File, error) {
		t.Errorf("opened %s for writing", path)
		return nil, errors.New("no")
	}
	runner := tooltest.New(t, nil)
	m.sys.tools = runner
	for _, step := range []string{stepEraseMetadata, stepEraseExpress} {
		_, err := m.Execute(context.Background(), sdk.ExecuteRequest{Method: step, Kind: sdk.StepKindClean})
		if sdk.TypeOf(err) != "BlockDeviceEraseError" {
			t.Fatalf("%s: error %v (%s), want BlockDeviceEraseError", step, err, sdk.TypeOf(err))
		}
		for _, dev := range []string{"/dev/sda", "/dev/nvme0n1"} {
			if !strings.Contains(err.Error(), dev) || !strings.Contains(err.Error(), "check whether in use") {
				t.Errorf("%s: error does not say %s could not be checked: %v", step, dev, err)
			}
		}
	}
	for _, dev := range []string{"/dev/sda", "/dev/nvme0n1", "/dev/sdz"} {
		_, err := m.Execute(context.Background(), eraseBlockDeviceReq(dev, `{}`))
		if typ := sdk.TypeOf(err); (typ != "BlockDeviceEraseError" && typ != "ProtectedDeviceError") || !strings.Contains(err.Error(), dev) {
			t.Errorf("erase_block_device %s: error %v (%s), want a BlockDeviceEraseError or ProtectedDeviceError naming it", dev, err, typ)
		}
	}
}
