package commands

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/hashicorp/go-hclog"
)

// sysClassNet is where network interfaces are listed (tests change it).
var sysClassNet = "/sys/class/net"

// procNetVLAN lists VLAN interfaces (tests change it).
var procNetVLAN = "/proc/net/vlan"

func registerSystem(r *Runner, d *Deps) {
	r.Register("system", "lockdown", Command{Run: d.lockdown})
}

// lockdown answers, then has the agent stop its API and heartbeats, take
// its network interfaces down and idle until it is ended, as newer IPA
// (10.0+) does, so that nothing can talk to it any more.
func (d *Deps) lockdown(_ context.Context, log hclog.Logger, _ Params) (any, error) {
	log.Warn("lockdown: the API and heartbeats stop once this answer is sent, then the interfaces go down")
	if d.StopAPI != nil {
		go d.StopAPI(StopLockdown)
	}
	return nil, nil
}

// Lockdown takes down every network interface that IPA's lockdown takes
// down (those with a device, bonds and VLANs; not the loopback), through
// the sandbox: with one, the `ip link set IF down` lines are recorded,
// not run. Failures are logged and the next interface is tried, as IPA
// does; it returns the interfaces it took (or would take) down.
func (d *Deps) Lockdown(ctx context.Context, log hclog.Logger) []string {
	ifaces, err := lockdownInterfaces()
	if err != nil {
		log.Error("lockdown: cannot list network interfaces", "error", err)
		return nil
	}
	var down []string
	for _, name := range ifaces {
		effect := fmt.Sprintf("network interface %s would go down", name)
		if _, err := d.Sandbox.Run(ctx, d.tools(), effect, "ip", "link", "set", name, "down"); err != nil {
			log.Warn("lockdown: could not take an interface down", "interface", name, "error", err)
			continue
		}
		down = append(down, name)
	}
	log.Info("lockdown: interfaces down", "interfaces", down, "sandbox", d.Sandbox.Enabled())
	return down
}

// lockdownInterfaces lists, in name order, the interfaces of sysClassNet
// that have a device link, bonding or an entry in procNetVLAN, as IPA's
// netutils.list_interfaces does.
func lockdownInterfaces() ([]string, error) {
	entries, err := os.ReadDir(sysClassNet)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", sysClassNet, err)
	}
	var out []string
	for _, e := range entries {
		name := e.Name()
		for _, p := range []string{filepath.Join(sysClassNet, name, "device"), filepath.Join(sysClassNet, name, "bonding"), filepath.Join(procNetVLAN, name)} {
			if _, err := os.Stat(p); err == nil {
				out = append(out, name)
				break
			}
		}
	}
	sort.Strings(out)
	return out, nil
}
