package generic

import (
	"context"
	"encoding/json"
	"flag"
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
	return factsSystem(root, facts)
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
