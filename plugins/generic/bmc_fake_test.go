package generic

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"
)

// fakeBMC is a bmcConn built from LAN channel configurations. A fixture's
// IPMI device node (testdata/server/dev/ipmi0) holds one as JSON in place
// of a character device; openFixtureBMC reads it from there, and
// fakeBackend (bmc_ipmi_test.go) serves the same JSON as IPMI messages.
type fakeBMC struct {
	// Channels are the channels by number. A channel that is missing, or
	// whose medium is not "lan" or "other-lan", is not a LAN channel.
	Channels map[uint8]fakeChannel `json:"channels"`

	// err, when set, is returned by every call after ok calls, as by a
	// BMC that stopped answering.
	err error
	ok  int
	// block makes every call wait for its context to end.
	block bool
	// asked records the calls, as "lan 1" and "lan6 1".
	asked []string
	// deadline is the context deadline of the first call.
	deadline time.Time
	closed   bool
}

// fakeChannel is one channel's configuration. An empty string or a
// missing list is a parameter the BMC does not report.
type fakeChannel struct {
	// Medium is "lan" (the default), "other-lan" or any other medium.
	Medium string `json:"medium,omitempty"`
	IPv4   string `json:"ipv4,omitempty"`
	MAC    string `json:"mac,omitempty"`
	// IPv6Enables is ipmitool's "ipv4", "ipv6" or "both".
	IPv6Enables string     `json:"ipv6_enables,omitempty"`
	Static      []fakeIPv6 `json:"static,omitempty"`
	Dynamic     []fakeIPv6 `json:"dynamic,omitempty"`
}

// fakeIPv6 is one IPv6 address slot, with ipmitool's words.
type fakeIPv6 struct {
	// Address is "address/prefix length".
	Address string `json:"address"`
	// Enabled is a static slot's enable bit.
	Enabled bool `json:"enabled,omitempty"`
	// Source is a dynamic slot's "SLAAC", "DHCPv6" or "static".
	Source string `json:"source,omitempty"`
	// Status is "active", "disabled", "pending", "failed", "deprecated"
	// or "invalid".
	Status string `json:"status"`
}

// ipv6Sources and ipv6Statuses are IPMI's codes for ipmitool's words.
var (
	ipv6Sources  = map[string]uint8{"static": 0, "SLAAC": ipv6SourceSLAAC, "DHCPv6": ipv6SourceDHCPv6}
	ipv6Statuses = map[string]uint8{"active": 0, "disabled": 1, "pending": 2, "failed": 3, "deprecated": 4, "invalid": 5}
	ipv6Modes    = map[string]ipv6Enables{"ipv4": ipv6Disabled, "ipv6": ipv6Only, "both": ipv6AndIPv4}
)

// openFixtureBMC is the fixtures' bmcOpener: it reads the fake BMC from
// the device node's JSON.
func openFixtureBMC(ctx context.Context, path string) (bmcConn, error) {
	f, err := readFakeBMC(path)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// readFakeBMC reads and checks a fake BMC's JSON.
func readFakeBMC(path string) (*fakeBMC, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("fake BMC: %w", err)
	}
	f := &fakeBMC{}
	if err := json.Unmarshal(b, f); err != nil {
		return nil, fmt.Errorf("fake BMC %s: %w", path, err)
	}
	for n, c := range f.Channels {
		if _, _, err := c.parse(); err != nil {
			return nil, fmt.Errorf("fake BMC %s: channel %d: %w", path, n, err)
		}
	}
	return f, nil
}

// isLAN reports whether the channel's medium is a LAN.
func (c fakeChannel) isLAN() bool {
	return c.Medium == "" || c.Medium == "lan" || c.Medium == "other-lan"
}

// parse converts the channel to what an ipmiConn reads.
func (c fakeChannel) parse() (bmcLAN, bmcLAN6, error) {
	var l bmcLAN
	var err error
	if c.IPv4 != "" {
		if l.ipv4, err = netip.ParseAddr(c.IPv4); err != nil || !l.ipv4.Is4() {
			return bmcLAN{}, bmcLAN6{}, fmt.Errorf("ipv4 %q: not an IPv4 address", c.IPv4)
		}
	}
	if c.MAC != "" {
		if l.mac, err = net.ParseMAC(c.MAC); err != nil || len(l.mac) != 6 {
			return bmcLAN{}, bmcLAN6{}, fmt.Errorf("mac %q: not a 6-byte MAC", c.MAC)
		}
	}
	l6 := bmcLAN6{enables: ipv6Unknown}
	if c.IPv6Enables != "" {
		m, ok := ipv6Modes[c.IPv6Enables]
		if !ok {
			return bmcLAN{}, bmcLAN6{}, fmt.Errorf("ipv6_enables %q: want ipv4, ipv6 or both", c.IPv6Enables)
		}
		l6.enables = m
	}
	for _, s := range []struct {
		in  []fakeIPv6
		out *[]bmcIPv6Addr
	}{{c.Static, &l6.static}, {c.Dynamic, &l6.dynamic}} {
		for _, a := range s.in {
			slot, err := a.parse()
			if err != nil {
				return bmcLAN{}, bmcLAN6{}, err
			}
			*s.out = append(*s.out, slot)
		}
	}
	return l, l6, nil
}

// parse converts one address slot.
func (a fakeIPv6) parse() (bmcIPv6Addr, error) {
	p, err := netip.ParsePrefix(a.Address)
	if err != nil || !p.Addr().Is6() {
		return bmcIPv6Addr{}, fmt.Errorf("address %q: want an IPv6 address/prefix length", a.Address)
	}
	src, ok := ipv6Sources[a.Source]
	if !ok && a.Source != "" {
		return bmcIPv6Addr{}, fmt.Errorf("source %q: want SLAAC, DHCPv6 or static", a.Source)
	}
	st, ok := ipv6Statuses[a.Status]
	if !ok {
		return bmcIPv6Addr{}, fmt.Errorf("status %q: not an IPMI address status", a.Status)
	}
	return bmcIPv6Addr{prefix: p, enabled: a.Enabled, source: src, active: st == 0}, nil
}

// call records a call and applies the fault settings.
func (f *fakeBMC) call(ctx context.Context, what string, ch uint8) (fakeChannel, error) {
	if len(f.asked) == 0 {
		f.deadline, _ = ctx.Deadline()
	}
	f.asked = append(f.asked, fmt.Sprintf("%s %d", what, ch))
	if f.block {
		<-ctx.Done()
		return fakeChannel{}, ctx.Err()
	}
	if err := ctx.Err(); err != nil {
		return fakeChannel{}, err
	}
	if f.err != nil && len(f.asked) > f.ok {
		return fakeChannel{}, f.err
	}
	c, ok := f.Channels[ch]
	if !ok || !c.isLAN() {
		return fakeChannel{}, errNotLANChannel
	}
	return c, nil
}

func (f *fakeBMC) lan(ctx context.Context, ch uint8) (bmcLAN, error) {
	c, err := f.call(ctx, "lan", ch)
	if err != nil {
		return bmcLAN{}, err
	}
	l, _, err := c.parse()
	return l, err
}

func (f *fakeBMC) lan6(ctx context.Context, ch uint8) (bmcLAN6, error) {
	c, err := f.call(ctx, "lan6", ch)
	if err != nil {
		return bmcLAN6{}, err
	}
	_, l6, err := c.parse()
	return l6, err
}

func (f *fakeBMC) close() error {
	f.closed = true
	return nil
}
