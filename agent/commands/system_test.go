package commands

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"

	"github.com/metalagent/metalagent/plugin-sdk/tool/tooltest"
)

func TestLockdownCommandStopsTheAPI(t *testing.T) {
	ta := newTestAgent(t, agentOptions{sandbox: true})
	res, err := ta.r.Execute(context.Background(), "system.lockdown", Params{}, false)
	if err != nil || res.CommandStatus != StatusSucceeded || res.CommandName != "lockdown" {
		t.Fatalf("result %+v, %v", res, err)
	}
	if why := <-ta.stopped; why != StopLockdown {
		t.Errorf("API stopped for %q, want %q", why, StopLockdown)
	}
}

// fakeNet makes a /sys/class/net and /proc/net/vlan: eth0 and eth1 with
// a device, bond0, vlan eth0.100, lo and a bridge without a device.
func fakeNet(t *testing.T) {
	t.Helper()
	sys, vlan := t.TempDir(), t.TempDir()
	for _, p := range []string{"eth1/device", "eth0/device", "bond0/bonding", "eth0.100", "lo", "br0/bridge"} {
		if err := os.MkdirAll(filepath.Join(sys, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(vlan, "eth0.100"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	oldSys, oldVLAN := sysClassNet, procNetVLAN
	sysClassNet, procNetVLAN = sys, vlan
	t.Cleanup(func() { sysClassNet, procNetVLAN = oldSys, oldVLAN })
}

func TestLockdownInterfaces(t *testing.T) {
	fakeNet(t)
	want := []string{"bond0", "eth0", "eth0.100", "eth1"}
	t.Run("sandbox records, runs nothing", func(t *testing.T) {
		ta := newTestAgent(t, agentOptions{sandbox: true, tools: tooltest.New(t, nil)})
		if got := ta.d.Lockdown(context.Background(), hclog.NewNullLogger()); !cmp.Equal(got, want) {
			t.Errorf("down %v, want %v", got, want)
		}
		var lines []string
		for _, r := range ta.records(t) {
			lines = append(lines, r.Arguments["command"].(string))
		}
		wantLines := []string{"ip link set bond0 down", "ip link set eth0 down", "ip link set eth0.100 down", "ip link set eth1 down"}
		if diff := cmp.Diff(wantLines, lines); diff != "" {
			t.Errorf("records (-want +got):\n%s", diff)
		}
	})
	t.Run("real: a failure goes on with the next", func(t *testing.T) {
		r := tooltest.New(t, tooltest.Replies{
			"ip link set bond0 down":    {{}},
			"ip link set eth0 down":     {{Exit: 1, Stderr: "RTNETLINK answers: Operation not permitted"}},
			"ip link set eth0.100 down": {{}},
			"ip link set eth1 down":     {{}},
		})
		ta := newTestAgent(t, agentOptions{tools: r})
		got := ta.d.Lockdown(context.Background(), hclog.NewNullLogger())
		if !cmp.Equal(got, []string{"bond0", "eth0.100", "eth1"}) {
			t.Errorf("down %v", got)
		}
	})
}
