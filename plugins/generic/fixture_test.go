package generic

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
	"github.com/metalagent/metalagent/plugins/generic/fixture"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// loadFixture loads testdata/name (fixture.Load) into a temporary
// directory and returns the copy's root.
func loadFixture(t *testing.T, name string) string {
	t.Helper()
	dst := t.TempDir()
	if _, err := fixture.Load(filepath.Join("testdata", name), dst); err != nil {
		t.Fatalf("load fixture %s: %v", name, err)
	}
	return dst
}

// fixtureSystem returns a system reading the fixture at root, with the
// given host name and addresses per interface (CIDR notation), machine
// x86_64, and neither ethtool nor LLDP.
func fixtureSystem(root, hostname string, addrs map[string][]string) system {
	facts := fixture.Facts{Format: fixture.FactsFormat, Hostname: hostname, Machine: "x86_64", Interfaces: map[string]fixture.Interface{}}
	for name, a := range addrs {
		facts.Interfaces[name] = fixture.Interface{Addresses: a}
	}
	s := factsSystem(root, facts)
	s.openBMC = openFixtureBMC
	return s
}

// testLogger discards logs unless the tests run with -v.
func testLogger(t *testing.T) hclog.Logger {
	if testing.Verbose() {
		return hclog.New(&hclog.LoggerOptions{Name: t.Name(), Level: hclog.Debug, Output: os.Stderr})
	}
	return hclog.NewNullLogger()
}

// TestNewForFixture checks that a manager over a fixture answers from its
// facts what it would ask the kernel: host name, machine, addresses,
// ethtool (answers and failures with their errno) and LLDP.
func TestNewForFixture(t *testing.T) {
	root := loadFixture(t, "vm")
	lldp := []sdk.LLDPTLV{{Type: 1, Value: "04001122334455"}, {Type: 0, Value: ""}}
	facts := fixture.Facts{
		Format:   fixture.FactsFormat,
		Hostname: "captured",
		Machine:  "aarch64",
		Interfaces: map[string]fixture.Interface{
			"eth0": {
				Addresses: []string{"2001:db8::9", "192.0.2.9/24", "fe80::fc:ff:fe00:1/64"},
				Ethtool:   &fixture.DriverInfo{Driver: "virtio_net", Version: "1.0.0", BusInfo: "0000:00:03.0"},
				LLDP:      &lldp,
			},
			"lo":   {Addresses: []string{"127.0.0.1/8"}, EthtoolError: &fixture.SyscallError{Errno: 95, Message: "operation not supported"}},
			"ifb0": {EthtoolError: &fixture.SyscallError{Message: "no such device"}},
		},
	}
	m := NewForFixture(root, facts, testLogger(t))
	ctx := context.Background()
	if _, err := m.EvaluateHardwareSupport(ctx, sdk.HostConfig{KernelParams: map[string]string{"ipa-collect-lldp": "1"}}); err != nil {
		t.Fatal(err)
	}
	inv, err := m.Inventory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Interfaces) != 1 {
		t.Fatalf("interfaces %+v, want eth0", inv.Interfaces)
	}
	eth0 := inv.Interfaces[0]
	got := []any{*inv.Hostname, inv.CPU.Architecture, deref(eth0.IPv4Address), deref(eth0.IPv6Address), deref(eth0.PCIAddress), deref(eth0.Driver), eth0.LLDP}
	want := []any{"captured", "aarch64", "192.0.2.9", "2001:db8::9", "0000:00:03.0", "virtio_net", lldp}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("host name, machine, addresses, ethtool, LLDP (-want +got):\n%s", diff)
	}
	listing := m.sys.networkListing()
	for _, line := range []string{
		"lo\n\tmac address: 00:00:00:00:00:00\n\tcarrier: 1\n\tspeed: unavailable (no such file or directory)\n\tdriver: unavailable (operation not supported)\n",
		"ifb0\n\tmac address: 5e:6a:7c:bc:0e:bd\n\tcarrier: 0\n\tspeed: unavailable (no such file or directory)\n\tdriver: unavailable (ethtool driver info of ifb0: no such device)\n",
	} {
		if !strings.Contains(listing, line) {
			t.Errorf("network listing lacks\n%s\nin\n%s", line, listing)
		}
	}

	// Without a host name or machine, those components are left out.
	inv, err = NewForFixture(root, fixture.Facts{}, testLogger(t)).Inventory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if inv.Hostname != nil || inv.CPU != nil || inv.Memory == nil {
		t.Errorf("empty facts: host name %v, cpu %v, memory %v; want no host name or CPU, memory from the files", inv.Hostname, inv.CPU, inv.Memory)
	}
}

// managerInventory returns m's inventory under cfg as generic JSON.
func managerInventory(t *testing.T, m *Manager, cfg sdk.HostConfig) map[string]any {
	t.Helper()
	ctx := context.Background()
	if _, err := m.EvaluateHardwareSupport(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	inv, err := m.Inventory(ctx)
	if err != nil {
		t.Fatalf("Inventory: %v", err)
	}
	b, err := json.Marshal(inv)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// captureAndLoad captures with opts into a new directory, loads the
// result, and returns the capture's directory, the loaded root and facts.
func captureAndLoad(t *testing.T, opts fixture.Options) (dir, root string, facts fixture.Facts, res fixture.Result) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "fixture")
	res, err := fixture.Capture(context.Background(), dir, opts)
	if err != nil {
		t.Fatalf("Capture: %v", err)
	}
	root = t.TempDir()
	facts, err = fixture.Load(dir, root)
	if err != nil {
		t.Fatalf("Load of the capture: %v", err)
	}
	return dir, root, facts, res
}

// TestCaptureMatchesLive captures the machine the tests run on, loads the
// capture and checks that the manager computes from it the inventory it
// computes on the machine itself, field for field.
func TestCaptureMatchesLive(t *testing.T) {
	start := time.Now()
	_, root, facts, res := captureAndLoad(t, fixture.Options{Logger: testLogger(t)})
	took := time.Since(start)
	t.Logf("capture: %d files, %d links, %d bytes, %d skipped, %v", res.Files, res.Links, res.Bytes, len(res.Skipped), took)
	for _, n := range res.Skipped {
		t.Logf("skipped %s: %s", n.Path, n.Error)
	}

	live := managerInventory(t, newManager(liveSystem(), testLogger(t)), sdk.HostConfig{})
	got := managerInventory(t, NewForFixture(root, facts, testLogger(t)), sdk.HostConfig{})
	if diff := cmp.Diff(live, got); diff != "" {
		t.Errorf("inventory of the capture differs from the machine's (-live +capture):\n%s", diff)
	}
}

// TestCaptureRedact captures the server fixture, with SMBIOS tables,
// addresses, ethtool and LLDP facts, with and without redaction, and
// checks that the redacted inventory is the plain one with every serial
// number, WWN and MAC address replaced consistently, and that no original
// value is left in any file of the redacted capture.
func TestCaptureRedact(t *testing.T) {
	root := loadFixture(t, "server")
	for _, f := range []string{"smbios_entry_point", "DMI"} {
		b, err := os.ReadFile(filepath.Join("testdata", "smbios", "full", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(root, "sys/firmware/dmi/tables"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "sys/firmware/dmi/tables", f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	lldp := []sdk.LLDPTLV{{Type: 1, Value: "04001122334455"}, {Type: 2, Value: "03ac1f6b000001"}, {Type: 5, Value: "7377"}}
	facts := &fixture.Facts{
		Hostname: "server1",
		Machine:  "x86_64",
		Interfaces: map[string]fixture.Interface{
			// fe80::ae1f:6bff:fe00:1 is derived from bond0's MAC address.
			"bond0":     {Addresses: []string{"fe80::ae1f:6bff:fe00:1/64", "10.0.0.5/24", "2001:db8::5/64"}},
			"bond0.100": {Addresses: []string{"192.0.2.10/24"}},
			"eno1": {
				Ethtool: &fixture.DriverInfo{Driver: "igb", Version: "5.13.0", BusInfo: "0000:3b:00.0"},
				LLDP:    &lldp,
			},
		},
	}
	cfg := sdk.HostConfig{BootIF: "01-ac-1f-6b-00-00-01", KernelParams: map[string]string{"ipa-collect-lldp": "1"}}
	key := []byte("test key")

	_, plainRoot, plainFacts, _ := captureAndLoad(t, fixture.Options{Root: root, Facts: facts})
	redDir, redRoot, redFacts, _ := captureAndLoad(t, fixture.Options{Root: root, Facts: facts, Redact: true, RedactKey: key})
	if plainFacts.Redacted || !redFacts.Redacted {
		t.Errorf("facts' redacted = %v (plain), %v (redacted)", plainFacts.Redacted, redFacts.Redacted)
	}
	plain := managerInventory(t, NewForFixture(plainRoot, plainFacts, testLogger(t)), cfg)
	red := managerInventory(t, NewForFixture(redRoot, redFacts, testLogger(t)), cfg)
	if diff := cmp.Diff(managerInventory(t, NewForFixture(root, *facts, testLogger(t)), cfg), plain); diff != "" {
		t.Fatalf("plain capture of the fixture changes its inventory (-fixture +capture):\n%s", diff)
	}

	// Walk both inventories: the redacted paths must differ and map
	// consistently, everything else must be equal.
	redacted := map[string]bool{
		"interfaces.mac_address": true, "interfaces.ipv6_address": true, "interfaces.lldp": true,
		"disks.serial": true, "disks.wwn": true, "disks.wwn_with_extension": true,
		"system_vendor.serial_number": true,
	}
	mapping := map[string]string{}
	inverse := map[string]string{}
	var walk func(path string, p, r any)
	walk = func(path string, p, r any) {
		switch pv := p.(type) {
		case map[string]any:
			rv, ok := r.(map[string]any)
			if !ok || len(rv) != len(pv) {
				t.Errorf("%s: %v redacted as %v", path, p, r)
				return
			}
			for k := range pv {
				walk(strings.TrimPrefix(path+"."+k, "."), pv[k], rv[k])
			}
		case []any:
			rv, ok := r.([]any)
			if !ok || len(rv) != len(pv) {
				t.Errorf("%s: %v redacted as %v", path, p, r)
				return
			}
			for i := range pv {
				walk(path, pv[i], rv[i])
			}
		case string:
			rs, _ := r.(string)
			if !redacted[path] && !strings.HasPrefix(path, "interfaces.lldp") {
				if rs != pv {
					t.Errorf("%s: %q changed to %q", path, pv, rs)
				}
				return
			}
			if strings.HasPrefix(pv, "2001:db8") || pv == "" || (path == "interfaces.lldp" && !strings.HasPrefix(pv, "0")) {
				// Not derived from a MAC address; or an LLDP type.
				if rs != pv {
					t.Errorf("%s: %q changed to %q", path, pv, rs)
				}
				return
			}
			lower := strings.ToLower(pv)
			// Values keep their length, IPv6 addresses their prefix.
			sameShape := len(rs) == len(pv)
			if path == "interfaces.ipv6_address" {
				p, r := net.ParseIP(pv), net.ParseIP(rs)
				sameShape = r != nil && p.Mask(net.CIDRMask(64, 128)).Equal(r.Mask(net.CIDRMask(64, 128)))
			}
			if rs == pv || !sameShape {
				t.Errorf("%s: %q redacted as %q", path, pv, rs)
			}
			if m, ok := mapping[lower]; ok && m != strings.ToLower(rs) {
				t.Errorf("%s: %q redacted as %q and elsewhere as %q", path, pv, rs, m)
			}
			if o, ok := inverse[strings.ToLower(rs)]; ok && o != lower {
				t.Errorf("%s: %q and %q both redacted as %q", path, pv, o, rs)
			}
			mapping[lower], inverse[strings.ToLower(rs)] = strings.ToLower(rs), lower
		default:
			if !cmp.Equal(p, r) {
				t.Errorf("%s: %v changed to %v", path, p, r)
			}
		}
	}
	walk("", plain, red)
	if len(mapping) == 0 {
		t.Fatal("nothing was redacted")
	}

	// No original may remain in the redacted files, whatever its case.
	originals := []string{"PHYF000000AB960CGN", "Z1Z0ABCD0000C5000000", "S439NA0N123456", "55cd2e415190abcd", "5000c500a1b2c3d4", "6000c500a1b2c3d4", "0123456789", "ABC1234", "ac:1f:6b:00:00:01", "ac:1f:6b:00:00:02", "02:42:ac:11:00:01", "001122334455", "ae1f:6bff:fe00:1"}
	err := filepath.WalkDir(redDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, o := range originals {
			if bytes.Contains(bytes.ToLower(b), bytes.ToLower([]byte(o))) {
				t.Errorf("%s still holds %q", p, o)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// The same key gives the same capture.
	again, _, _, _ := captureAndLoad(t, fixture.Options{Root: root, Facts: facts, Redact: true, RedactKey: key})
	if diff := cmp.Diff(readTree(t, redDir), readTree(t, again)); diff != "" {
		t.Errorf("two redacted captures with the same key differ:\n%s", diff)
	}
}

// readTree returns the files under dir by relative path.
func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[rel] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestFixtureGoldens computes, for every fixture under testdata that has a
// facts.json (the captured ones, see README.md, "Contributing a
// fixture"), the inventory with the facts' host name, addresses and
// ethtool answers and the default host configuration, and compares it with
// the fixture's inventory.golden.json, which `metalagent-fixture inventory
// --golden` writes and -update rewrites.
func TestFixtureGoldens(t *testing.T) {
	entries, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, e := range entries {
		dir := filepath.Join("testdata", e.Name())
		if _, err := os.Stat(filepath.Join(dir, fixture.FactsFile)); err != nil {
			continue
		}
		found++
		t.Run(e.Name(), func(t *testing.T) {
			root := t.TempDir()
			facts, err := fixture.Load(dir, root)
			if err != nil {
				t.Fatal(err)
			}
			inv, err := NewForFixture(root, facts, testLogger(t)).Inventory(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			encoded, err := json.MarshalIndent(inv, "", " ")
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join(dir, "inventory.golden.json")
			if *update {
				if err := os.WriteFile(golden, append(encoded, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var got map[string]any
			if err := json.Unmarshal(encoded, &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(readJSON(t, golden), got); diff != "" {
				t.Errorf("inventory differs from %s (-want +got):\n%s", golden, diff)
			}
		})
	}
	if found == 0 {
		t.Skip("no captured fixture (with facts.json) under testdata")
	}
}
