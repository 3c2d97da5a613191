package inspector

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"

	"github.com/metalagent/metalagent/agent/ipa"
	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// fakeHardware is a plugin host with a fixed inventory and fixed answers
// to hardware methods (a method without an answer is not implemented).
type fakeHardware struct {
	inv     map[string]any
	invErr  error
	answers map[string]json.RawMessage
	calls   []string
}

func (f *fakeHardware) Inventory(context.Context) (map[string]any, error) {
	f.calls = append(f.calls, "inventory")
	if f.invErr != nil {
		return nil, f.invErr
	}
	// A fresh copy each time, as the host merges a new one per call.
	var out map[string]any
	b, _ := json.Marshal(f.inv)
	_ = json.Unmarshal(b, &out)
	return out, nil
}

func (f *fakeHardware) Dispatch(_ context.Context, req sdk.ExecuteRequest) (json.RawMessage, error) {
	f.calls = append(f.calls, req.Method)
	if a, ok := f.answers[req.Method]; ok {
		return a, nil
	}
	return nil, ipa.New("HardwareManagerMethodNotFound", "No HardwareManager found to handle method: %s", req.Method)
}

// testInventory has two disks of which only the 8 GiB one can be a root
// disk, and LLDP on one interface.
func testInventory() map[string]any {
	var inv map[string]any
	_ = json.Unmarshal([]byte(`{
	  "interfaces": [
	    {"name": "eth0", "mac_address": "52:54:00:12:34:56", "ipv4_address": "192.0.2.10", "lldp": [[1, "04525400123456"], [2, "0565746830"]]},
	    {"name": "eth1", "mac_address": "52:54:00:ab:cd:ef", "ipv4_address": null, "lldp": null}
	  ],
	  "disks": [
	    {"name": "/dev/sda", "size": 2147483648, "rotational": true, "model": "small"},
	    {"name": "/dev/sdb", "size": 8589934592, "rotational": false, "model": "root", "acme_extra": "kept"}
	  ],
	  "cpu": {"count": 4, "architecture": "x86_64"},
	  "memory": {"total": 8000000000, "physical_mb": 8192},
	  "boot": {"current_boot_mode": "bios", "pxe_interface": "01-52-54-00-12-34-56"},
	  "acme_raid": {"controllers": 1}
	}`), &inv)
	return inv
}

// runCollector runs one collector against a fresh payload.
func runCollector(t *testing.T, name string, o Options) (map[string]any, error) {
	t.Helper()
	o = o.withDefaults()
	e := &env{o: o, log: hclog.NewNullLogger(), names: []string{name}, data: map[string]any{}}
	err := collectors[name](context.Background(), e)
	return e.data, err
}

// asJSON compares through JSON, as the inspector sees the payload.
func asJSON(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDefaultCollector(t *testing.T) {
	tests := []struct {
		name     string
		inv      map[string]any
		bootIF   string
		wantRoot any
		wantBoot any
	}{
		{"root disk is the smallest of at least 4 GiB, inventory entry whole", testInventory(), "",
			map[string]any{"name": "/dev/sdb", "size": 8589934592.0, "rotational": false, "model": "root", "acme_extra": "kept"},
			"01-52-54-00-12-34-56"},
		{"no disk big enough: no root_disk, BOOTIF when the inventory has no boot", map[string]any{
			"disks": []any{map[string]any{"name": "/dev/loop0", "size": 1 << 30}}}, "aa:bb:cc:dd:ee:ff",
			nil, "aa:bb:cc:dd:ee:ff"},
		{"nothing known: boot_interface null", map[string]any{"disks": []any{}}, "", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hw := &fakeHardware{inv: tt.inv}
			data, err := runCollector(t, "default", Options{Hardware: hw, BootIF: tt.bootIF,
				Managers: []sdk.Version{{Name: "generic_hardware_manager", Version: "1.2"}, {Name: "acme", Version: "3"}}})
			if err != nil {
				t.Fatal(err)
			}
			got := asJSON(t, data).(map[string]any)
			if diff := cmp.Diff(asJSON(t, tt.inv), got["inventory"]); diff != "" {
				t.Errorf("inventory (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantRoot, got["root_disk"]); diff != "" {
				t.Errorf("root_disk (-want +got):\n%s", diff)
			}
			if got["boot_interface"] != tt.wantBoot {
				t.Errorf("boot_interface = %v, want %v", got["boot_interface"], tt.wantBoot)
			}
			wantConf := map[string]any{"collectors": []any{"default"}, "managers": []any{
				map[string]any{"name": "generic_hardware_manager", "version": "1.2"}, map[string]any{"name": "acme", "version": "3"}}}
			if diff := cmp.Diff(wantConf, got["configuration"]); diff != "" {
				t.Errorf("configuration (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDefaultCollectorInventoryFailure(t *testing.T) {
	hw := &fakeHardware{invErr: errors.New("plugin crashed")}
	if _, err := runCollector(t, "default", Options{Hardware: hw}); err == nil || !strings.Contains(err.Error(), "plugin crashed") {
		t.Fatalf("err = %v, want the inventory's failure", err)
	}
}

func TestPCIDevicesCollector(t *testing.T) {
	data, err := runCollector(t, "pci-devices", Options{SysRoot: "testdata/sys"})
	if err != nil {
		t.Fatal(err)
	}
	// 0000:00:04.0 has an unreadable device ID and 0000:00:05.0 is no
	// directory: both left out.
	want := []any{
		map[string]any{"vendor_id": "8086", "product_id": "29c0", "class": "060000", "revision": "00", "bus": "0000:00:00.0"},
		map[string]any{"vendor_id": "1af4", "product_id": "1000", "class": "020000", "revision": nil, "bus": "0000:00:03.0"},
		map[string]any{"vendor_id": "8086", "product_id": "2922", "class": "010601", "revision": "02", "bus": "0000:00:1f.2"},
	}
	if diff := cmp.Diff(want, asJSON(t, data["pci_devices"])); diff != "" {
		t.Errorf("pci_devices (-want +got):\n%s", diff)
	}
	if _, err := runCollector(t, "pci-devices", Options{SysRoot: t.TempDir()}); err == nil {
		t.Error("no /sys/bus/pci/devices: want a collector failure")
	}
}

func TestNUMATopologyCollector(t *testing.T) {
	data, err := runCollector(t, "numa-topology", Options{SysRoot: "testdata/sys"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"ram": []any{
			map[string]any{"numa_node": 0.0, "size_kb": 4030364.0},
			map[string]any{"numa_node": 1.0, "size_kb": 4194304.0}, // 4 GB
		},
		"cpus": []any{
			map[string]any{"cpu": 0.0, "numa_node": 0.0, "thread_siblings": []any{0.0, 1.0}},
			map[string]any{"cpu": 1.0, "numa_node": 1.0, "thread_siblings": []any{2.0, 3.0}},
		},
		"nics": []any{
			map[string]any{"name": "eth0", "numa_node": 0.0},
			map[string]any{"name": "eth1", "numa_node": 1.0},
		},
	}
	if diff := cmp.Diff(want, asJSON(t, data["numa_topology"])); diff != "" {
		t.Errorf("numa_topology (-want +got):\n%s", diff)
	}
	// As in IPA, no NUMA directory is a warning, not a failure.
	data, err = runCollector(t, "numa-topology", Options{SysRoot: t.TempDir()})
	if err != nil || data["numa_topology"] != nil {
		t.Errorf("no NUMA data: got %v, err %v; want no key and no failure", data, err)
	}
}

func TestLLDPCollector(t *testing.T) {
	tests := []struct {
		name    string
		answers map[string]json.RawMessage
		inv     map[string]any
		want    any
	}{
		{"a manager collects LLDP", map[string]json.RawMessage{MethodCollectLLDPData: json.RawMessage(`{"eth0": [[1, "0400"]], "eth1": []}`)},
			testInventory(), map[string]any{"eth0": []any{[]any{1.0, "0400"}}, "eth1": []any{}}},
		{"no manager: the inventory's LLDP", nil, testInventory(),
			map[string]any{"eth0": []any{[]any{1.0, "04525400123456"}, []any{2.0, "0565746830"}}}},
		{"no manager, no LLDP in the inventory: empty", nil, map[string]any{"interfaces": []any{map[string]any{"name": "eth0", "lldp": nil}}},
			map[string]any{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := runCollector(t, "lldp", Options{Hardware: &fakeHardware{inv: tt.inv, answers: tt.answers}})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, asJSON(t, data["lldp_raw"])); diff != "" {
				t.Errorf("lldp_raw (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLogsCollector(t *testing.T) {
	tests := []struct {
		name string
		logs func(context.Context) (string, error)
		want any
	}{
		{"bundle sent", func(context.Context) (string, error) { return "H4sIAAAA", nil }, "H4sIAAAA"},
		{"bundle failure is not a collector failure", func(context.Context) (string, error) { return "", errors.New("disk full") }, nil},
		{"no bundle function", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := runCollector(t, "logs", Options{Logs: tt.logs})
			if err != nil {
				t.Fatal(err)
			}
			if data["logs"] != tt.want {
				t.Errorf("logs = %v, want %v", data["logs"], tt.want)
			}
		})
	}
}
