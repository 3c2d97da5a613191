package generic

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// cacheEnv is a manager on a copy of the server fixture whose tree, host
// name and addresses a test may change between inventories.
type cacheEnv struct {
	root     string
	m        *Manager
	mu       sync.Mutex
	hostname string
	addrs    map[string][]string
}

// serverAddrs are the server fixture's addresses, as TestInventoryGolden
// gives them.
func serverAddrs() map[string][]string {
	return map[string][]string{
		"bond0":     {"fe80::ae1f:6bff:fe00:1/64", "10.0.0.5/24", "2001:db8::5/64", "10.0.0.6/24"},
		"bond0.100": {"192.0.2.10/24"},
	}
}

func newCacheEnv(t *testing.T) *cacheEnv {
	t.Helper()
	e := &cacheEnv{root: loadFixture(t, "server"), hostname: "server1", addrs: serverAddrs()}
	e.m = e.manager(t)
	return e
}

// manager returns a new manager on e's tree, host name and addresses.
func (e *cacheEnv) manager(t *testing.T) *Manager {
	t.Helper()
	s := fixtureSystem(e.root, "", nil)
	s.hostname = func() (string, error) {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.hostname, nil
	}
	s.addrs = func(ifname string) ([]net.Addr, error) {
		e.mu.Lock()
		cidrs := slices.Clone(e.addrs[ifname])
		e.mu.Unlock()
		var out []net.Addr
		for _, c := range cidrs {
			ip, n, err := net.ParseCIDR(c)
			if err != nil {
				return nil, err
			}
			n.IP = ip
			out = append(out, n)
		}
		return out, nil
	}
	m := newManager(s, testLogger(t))
	if _, err := m.EvaluateHardwareSupport(context.Background(), sdk.HostConfig{BootIF: "01-ac-1f-6b-00-00-01"}); err != nil {
		t.Fatal(err)
	}
	return m
}

// inventory runs Inventory and returns it as generic JSON.
func (e *cacheEnv) inventory(t *testing.T) map[string]any {
	t.Helper()
	return inventoryOf(t, e.m)
}

// inventoryOf runs m's Inventory and returns it as generic JSON.
func inventoryOf(t *testing.T, m *Manager) map[string]any {
	t.Helper()
	inv, err := m.Inventory(context.Background())
	if err != nil {
		t.Fatalf("Inventory: %v", err)
	}
	return toJSON(t, inv)
}

// toJSON returns v as generic JSON.
func toJSON(t *testing.T, v any) map[string]any {
	t.Helper()
	out, err := asJSON(v)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// asJSON returns v as generic JSON, for goroutines that may not end the
// test.
func asJSON(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// write writes content to the file rel under root, making its directory.
func (e *cacheEnv) write(t *testing.T, rel, content string) {
	t.Helper()
	p := filepath.Join(e.root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// remove removes rel under root and everything below it.
func (e *cacheEnv) remove(t *testing.T, rel string) {
	t.Helper()
	if err := os.RemoveAll(filepath.Join(e.root, rel)); err != nil {
		t.Fatal(err)
	}
}

// diskByName returns the inventory's disk named name, or nil.
func diskByName(inv map[string]any, name string) map[string]any {
	for _, d := range inv["disks"].([]any) {
		if d := d.(map[string]any); d["name"] == name {
			return d
		}
	}
	return nil
}

// iface returns the inventory's interface named name, or nil.
func iface(inv map[string]any, name string) map[string]any {
	for _, i := range inv["interfaces"].([]any) {
		if i := i.(map[string]any); i["name"] == name {
			return i
		}
	}
	return nil
}

// jsonAt returns inv's value at the path of keys, nil when a step is
// missing.
func jsonAt(inv map[string]any, keys ...string) any {
	var v any = inv
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// TestInventoryCacheRereads changes the fixture between two inventories of
// one manager: each dynamic field must show the change on the second
// call, and each cached one must keep its first value.
func TestInventoryCacheRereads(t *testing.T) {
	diskField := func(name, key string) func(map[string]any) any {
		return func(inv map[string]any) any {
			if d := diskByName(inv, name); d != nil {
				return d[key]
			}
			return "absent"
		}
	}
	ifaceField := func(name, key string) func(map[string]any) any {
		return func(inv map[string]any) any {
			if i := iface(inv, name); i != nil {
				return i[key]
			}
			return "absent"
		}
	}
	tests := []struct {
		name   string
		change func(t *testing.T, e *cacheEnv)
		get    func(inv map[string]any) any
		// want is the value after the change; nil with kept set means the
		// first call's value.
		want any
		kept bool
	}{
		{
			name: "new disk",
			change: func(t *testing.T, e *cacheEnv) {
				e.write(t, "sys/class/block/sdd/size", "2048\n")
				e.write(t, "sys/class/block/sdd/dev", "8:48\n")
				e.write(t, "sys/class/block/sdd/device/model", "NEWDISK\n")
			},
			get:  diskField("/dev/sdd", "model"),
			want: "NEWDISK",
		},
		{
			name:   "disk removed",
			change: func(t *testing.T, e *cacheEnv) { e.remove(t, "sys/class/block/sdb") },
			get:    diskField("/dev/sdb", "name"),
			want:   "absent",
		},
		{
			name:   "disk size",
			change: func(t *testing.T, e *cacheEnv) { e.write(t, "sys/class/block/sda/size", "4096\n") },
			get:    diskField("/dev/sda", "size"),
			want:   4096.0 * 512,
		},
		{
			name:   "medium inserted in an empty drive",
			change: func(t *testing.T, e *cacheEnv) { e.write(t, "sys/class/block/sdc/size", "8192\n") },
			get:    diskField("/dev/sdc", "size"),
			want:   8192.0 * 512,
		},
		{
			name:   "rotational flag",
			change: func(t *testing.T, e *cacheEnv) { e.write(t, "sys/class/block/sda/queue/rotational", "1\n") },
			get:    diskField("/dev/sda", "rotational"),
			want:   true,
		},
		{
			name: "another disk under the same name (device number)",
			change: func(t *testing.T, e *cacheEnv) {
				e.write(t, "sys/class/block/sda/dev", "8:64\n")
				e.write(t, "run/udev/data/b8:64", "E:ID_SERIAL_SHORT=REPLACED01\n")
			},
			get:  diskField("/dev/sda", "serial"),
			want: "REPLACED01",
		},
		{
			name: "another disk under the same name (diskseq)",
			change: func(t *testing.T, e *cacheEnv) {
				e.write(t, "sys/class/block/nvme0n1/diskseq", "17\n")
				e.write(t, "sys/class/block/nvme0n1/device/serial", "S439NA0N999999\n")
			},
			get:  diskField("/dev/nvme0n1", "serial"),
			want: "S439NA0N999999",
		},
		{
			name: "udev database entry rewritten",
			change: func(t *testing.T, e *cacheEnv) {
				e.write(t, "run/udev/data/b8:0", "E:ID_MODEL=LATE_UDEV\nE:ID_WWN=0x5000000000000001\n")
			},
			get:  diskField("/dev/sda", "wwn"),
			want: "0x5000000000000001",
		},
		{
			name: "by-path link added",
			change: func(t *testing.T, e *cacheEnv) {
				e.remove(t, "dev/disk/by-path/pci-0000:5e:00.0-nvme-1")
				if err := os.Symlink("../../nvme0n1", filepath.Join(e.root, "dev/disk/by-path/pci-0000:5f:00.0-nvme-1")); err != nil {
					t.Fatal(err)
				}
			},
			get:  diskField("/dev/nvme0n1", "by_path"),
			want: "/dev/disk/by-path/pci-0000:5f:00.0-nvme-1",
		},
		{
			name: "disk model, same device",
			change: func(t *testing.T, e *cacheEnv) {
				e.write(t, "sys/class/block/nvme0n1/device/model", "CHANGED IN PLACE\n")
			},
			get:  diskField("/dev/nvme0n1", "model"),
			kept: true,
		},
		{
			name: "address added",
			change: func(t *testing.T, e *cacheEnv) {
				e.mu.Lock()
				e.addrs["eno1"] = []string{"198.51.100.7/24"}
				e.mu.Unlock()
			},
			get:  ifaceField("eno1", "ipv4_address"),
			want: "198.51.100.7",
		},
		{
			name:   "carrier",
			change: func(t *testing.T, e *cacheEnv) { e.write(t, "sys/class/net/eno2/carrier", "1\n") },
			get:    ifaceField("eno2", "has_carrier"),
			want:   true,
		},
		{
			name: "new interface",
			change: func(t *testing.T, e *cacheEnv) {
				e.write(t, "sys/class/net/bond0.200/address", "AC:1F:6B:00:00:09\n")
			},
			get:  ifaceField("bond0.200", "mac_address"),
			want: "ac:1f:6b:00:00:09",
		},
		{
			name:   "interface removed",
			change: func(t *testing.T, e *cacheEnv) { e.remove(t, "sys/class/net/bond0.100") },
			get:    ifaceField("bond0.100", "name"),
			want:   "absent",
		},
		{
			name: "memory total",
			change: func(t *testing.T, e *cacheEnv) {
				e.write(t, "proc/meminfo", "MemTotal:       1024 kB\n")
			},
			get:  func(inv map[string]any) any { return jsonAt(inv, "memory", "total") },
			want: 1024.0 * 1024,
		},
		{
			name: "host name",
			change: func(t *testing.T, e *cacheEnv) {
				e.mu.Lock()
				e.hostname = "renamed"
				e.mu.Unlock()
			},
			get:  func(inv map[string]any) any { return inv["hostname"] },
			want: "renamed",
		},
		{
			name: "cpu model",
			change: func(t *testing.T, e *cacheEnv) {
				e.write(t, "proc/cpuinfo", "processor\t: 0\nmodel name\t: Changed\nflags\t\t: fpu\n")
			},
			get:  func(inv map[string]any) any { return jsonAt(inv, "cpu", "model_name") },
			kept: true,
		},
		{
			name: "memory blocks and SMBIOS",
			change: func(t *testing.T, e *cacheEnv) {
				e.remove(t, "sys/firmware/dmi")
				e.remove(t, "sys/devices/system/memory")
			},
			get:  func(inv map[string]any) any { return jsonAt(inv, "memory", "physical_mb") },
			kept: true,
		},
		{
			name: "system vendor",
			change: func(t *testing.T, e *cacheEnv) {
				e.remove(t, "sys/firmware/dmi")
				e.remove(t, "sys/class/dmi")
			},
			get:  func(inv map[string]any) any { return jsonAt(inv, "system_vendor", "manufacturer") },
			kept: true,
		},
		{
			name:   "boot mode",
			change: func(t *testing.T, e *cacheEnv) { e.remove(t, "sys/firmware/efi") },
			get:    func(inv map[string]any) any { return jsonAt(inv, "boot", "current_boot_mode") },
			kept:   true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newCacheEnv(t)
			before := tt.get(e.inventory(t))
			tt.change(t, e)
			after := tt.get(e.inventory(t))
			want := tt.want
			if tt.kept {
				want = before
				// A new manager must see the change, or the case tests
				// nothing.
				if cmp.Equal(before, tt.get(inventoryOf(t, e.manager(t)))) {
					t.Fatalf("a fresh manager sees %v too: the change changes nothing", before)
				}
			} else if cmp.Equal(before, want) {
				t.Fatalf("before the change the value is already %v", want)
			}
			if diff := cmp.Diff(want, after); diff != "" {
				t.Errorf("after the change (-want +got):\n%s", diff)
			}
		})
	}
}

// TestInventoryCacheKeepsNoFailure checks that a part that could not be
// read is read again on the next call rather than kept missing.
func TestInventoryCacheKeepsNoFailure(t *testing.T) {
	e := newCacheEnv(t)
	cpuinfo := filepath.Join(e.root, "proc", "cpuinfo")
	saved, err := os.ReadFile(cpuinfo)
	if err != nil {
		t.Fatal(err)
	}
	e.remove(t, "proc/cpuinfo")
	if got := e.inventory(t)["cpu"]; got != nil {
		t.Fatalf("cpu without /proc/cpuinfo: %v, want none", got)
	}
	e.write(t, "proc/cpuinfo", string(saved))
	if got := jsonAt(e.inventory(t), "cpu", "model_name"); got != "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz" {
		t.Errorf("cpu model once /proc/cpuinfo is back: %v", got)
	}
}

// TestInventoryCacheCopies changes everything an inventory hands out that
// the cache keeps, and checks that the next inventory is unaffected.
func TestInventoryCacheCopies(t *testing.T) {
	e := newCacheEnv(t)
	want := e.inventory(t)
	inv, err := e.m.Inventory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	inv.CPU.ModelName = "x"
	inv.CPU.Flags[0] = "x"
	*inv.CPU.Frequency = "x"
	*inv.CPU.SocketCount = 99
	*inv.Memory.PhysicalMB = 1
	inv.SystemVendor.Manufacturer = "x"
	inv.SystemVendor.Firmware.Version = "x"
	inv.Boot.CurrentBootMode = "x"
	for i := range inv.Disks {
		d := &inv.Disks[i]
		for _, p := range []*string{d.Model, d.Serial, d.Vendor, d.WWN, d.WWNWithExtension, d.WWNVendorExtension, d.HCTL, d.ByPath} {
			if p != nil {
				*p = "x"
			}
		}
	}
	if diff := cmp.Diff(want, e.inventory(t)); diff != "" {
		t.Errorf("an inventory changed by its caller leaks into the next (-want +got):\n%s", diff)
	}
}

// TestInventoryConcurrent runs inventories at once on one manager, as the
// host's API and its heartbeat path may; each must equal the golden file.
// Run with -race.
func TestInventoryConcurrent(t *testing.T) {
	e := newCacheEnv(t)
	want := readJSON(t, filepath.Join("testdata", "server", "inventory.golden.json"))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 4 {
				inv, err := e.m.Inventory(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				got, err := asJSON(inv)
				if err != nil {
					t.Error(err)
					return
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("concurrent inventory differs from the golden file (-want +got):\n%s", diff)
					return
				}
			}
		})
	}
	wg.Wait()
}
