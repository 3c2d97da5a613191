package generic

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
)

// BMC addresses, IPA's get_bmc_address, get_bmc_v6address and get_bmc_mac,
// read in-band through the kernel's IPMI device instead of ipmitool.
const (
	// bmcFirstChannel and bmcLastChannel bound the channels IPA asks
	// about: of IPMI's channels 0 to 15, only 1 to 11 can be LAN channels.
	bmcFirstChannel, bmcLastChannel = 1, 11
	// bmcTimeout bounds the whole BMC query, all channels included, so
	// that a BMC that does not answer costs the inventory at most this.
	bmcTimeout = 3 * time.Second
)

// ipmiDevices are the device nodes of the kernel's in-band IPMI interface,
// relative to /dev, in the order they are opened.
var ipmiDevices = []string{"ipmi0", "ipmi/0", "ipmidev/0"}

// errNotLANChannel is what a bmcConn answers for a channel that is not a
// LAN channel or does not exist: ipmitool's "Invalid channel".
var errNotLANChannel = errors.New("not a LAN channel")

// bmcConn is an open connection to the BMC, narrowed to what the
// inventory needs: the LAN configuration parameters of one channel, as
// ipmitool's "lan print" and "lan6 print" show them. A parameter the BMC
// refuses (a completion code) is left unset; an error means the BMC could
// not be asked at all (a transport failure or the context's end), except
// errNotLANChannel.
type bmcConn interface {
	// lan reads the IPv4 address and MAC of a LAN channel.
	lan(ctx context.Context, channel uint8) (bmcLAN, error)
	// lan6 reads the IPv6 addressing mode and addresses of a LAN channel.
	lan6(ctx context.Context, channel uint8) (bmcLAN6, error)
	// close releases the connection.
	close() error
}

// bmcOpener opens the IPMI device found at path (under the system's /dev).
type bmcOpener func(ctx context.Context, path string) (bmcConn, error)

// bmcLAN is a LAN channel's IPv4 configuration.
type bmcLAN struct {
	// ipv4 is the IP Address parameter; invalid when not reported.
	ipv4 netip.Addr
	// mac is the MAC Address parameter; nil when not reported.
	mac net.HardwareAddr
}

// ipv6Enables is the IPv6/IPv4 Addressing Enables parameter.
type ipv6Enables uint8

// IPMI's values of IPv6/IPv4 Addressing Enables, ipmitool's "ipv4",
// "ipv6" and "both", and a value for a channel that does not report it.
const (
	ipv6Disabled ipv6Enables = 0
	ipv6Only     ipv6Enables = 1
	ipv6AndIPv4  ipv6Enables = 2
	ipv6Unknown  ipv6Enables = 0xff
)

// IPMI's codes of a dynamic IPv6 address's source.
const (
	ipv6SourceSLAAC  uint8 = 1
	ipv6SourceDHCPv6 uint8 = 2
)

// bmcIPv6Addr is one IPv6 static or dynamic address slot of a channel.
type bmcIPv6Addr struct {
	prefix netip.Prefix
	// enabled is a static address's enable bit.
	enabled bool
	// source is a dynamic address's source (ipv6SourceSLAAC or
	// ipv6SourceDHCPv6; other values are reserved).
	source uint8
	// active is true when the address's status is "active".
	active bool
}

// bmcLAN6 is a LAN channel's IPv6 configuration.
type bmcLAN6 struct {
	enables ipv6Enables
	static  []bmcIPv6Addr
	dynamic []bmcIPv6Addr
}

// bmcInfo is the inventory's bmc_address, bmc_v6address and bmc_mac; nil
// is JSON null.
type bmcInfo struct {
	v4, v6, mac *string
}

// bmc reports IPA's bmc_address, bmc_v6address and bmc_mac. Without an
// IPMI device it answers at once, logged at debug level, with what IPA 9.4
// (the release of Ironic 21.4) reports on such a machine: "0.0.0.0",
// "::/0" and no bmc_mac (see ipa-9.1.1-inventory.json in testdata/vm). With one,
// channels 1 to 11 are asked as IPA does (see queryBMC) within bmcTimeout;
// if the BMC cannot be opened or does not answer, all three are null and
// one warning is logged. It never fails the inventory.
func (s system) bmc(ctx context.Context, log hclog.Logger) (v4, v6, mac *string) {
	dev := s.ipmiDevice()
	if dev == "" {
		log.Debug("no IPMI device: reporting IPA's unconfigured BMC addresses", "dev", s.devRoot)
		return strPtr("", "0.0.0.0"), strPtr("", "::/0"), nil
	}
	if s.openBMC == nil {
		log.Warn("IPMI device present but no way to open it; BMC addresses not reported", "device", dev)
		return nil, nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, bmcTimeout)
	defer cancel()
	start := time.Now()
	info, err := s.readBMC(ctx, dev)
	if err != nil {
		log.Warn("BMC query failed; BMC addresses not reported", "device", dev, "error", err,
			"elapsed", time.Since(start).Round(time.Millisecond))
		return nil, nil, nil
	}
	log.Debug("BMC queried", "device", dev, "bmc_address", orNull(info.v4), "bmc_v6address", orNull(info.v6),
		"bmc_mac", orNull(info.mac), "elapsed", time.Since(start).Round(time.Millisecond))
	return info.v4, info.v6, info.mac
}

// ipmiDevice returns the first IPMI device node that exists, or "".
func (s system) ipmiDevice() string {
	for _, d := range ipmiDevices {
		p := filepath.Join(s.devRoot, d)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// readBMC opens the device, queries it and closes it.
func (s system) readBMC(ctx context.Context, dev string) (info bmcInfo, err error) {
	conn, err := s.openBMC(ctx, dev)
	if err != nil {
		return bmcInfo{}, fmt.Errorf("open %s: %w", dev, err)
	}
	defer func() {
		if cerr := conn.close(); cerr != nil && err == nil {
			err = fmt.Errorf("close %s: %w", dev, cerr)
		}
	}()
	return queryBMC(ctx, conn)
}

// queryBMC walks channels 1 to 11 once, in order, skipping those that are
// not LAN channels, and gives each value IPA's answer:
//
//   - bmc_address: the first channel's IPv4 address other than 0.0.0.0;
//     "0.0.0.0" when none is.
//   - bmc_v6address: on the first channel whose addressing enables are
//     "ipv6" or "both", the first active dynamic address from SLAAC or
//     DHCPv6, else the first enabled active static address, other than
//     "::"; without prefix length. "::/0" when no channel has one.
//   - bmc_mac: the MAC of the first channel that has an IPv4 address other
//     than 0.0.0.0, or an IPv6 address (any slot) that starts neither with
//     "::" nor "fe80", skipping channels whose MAC is 00:00:00:00:00:00.
//     Null when none has one: IPA then leaves bmc_mac out.
//
// A parameter the channel does not report skips that channel for the
// values that need it. The channel's IPv6 parameters are read only while a
// value still needs them.
func queryBMC(ctx context.Context, conn bmcConn) (bmcInfo, error) {
	var v4, v6, mac string
	for ch := uint8(bmcFirstChannel); ch <= bmcLastChannel && (v4 == "" || v6 == "" || mac == ""); ch++ {
		lan, err := conn.lan(ctx, ch)
		if errors.Is(err, errNotLANChannel) {
			continue
		}
		if err != nil {
			return bmcInfo{}, fmt.Errorf("channel %d: %w", ch, err)
		}
		unset := lan.ipv4.IsValid() && lan.ipv4.IsUnspecified()
		if v4 == "" && lan.ipv4.IsValid() && !unset {
			v4 = lan.ipv4.String()
		}
		macCandidate := mac == "" && lan.ipv4.IsValid() && len(lan.mac) == 6 && !allZero(lan.mac)
		var lan6 bmcLAN6
		lan6OK := false
		if v6 == "" || (macCandidate && unset) {
			lan6, err = conn.lan6(ctx, ch)
			switch {
			case err == nil:
				lan6OK = true
			case !errors.Is(err, errNotLANChannel):
				return bmcInfo{}, fmt.Errorf("channel %d: %w", ch, err)
			}
		}
		if v6 == "" && lan6OK {
			v6 = lan6.address()
		}
		if macCandidate && (!unset || (lan6OK && lan6.hasRoutable())) {
			mac = lan.mac.String()
		}
	}
	info := bmcInfo{v4: strPtr(v4, "0.0.0.0"), v6: strPtr(v6, "::/0")}
	if mac != "" {
		info.mac = &mac
	}
	return info, nil
}

// address returns the channel's IPv6 address as IPA's get_bmc_v6address
// picks it, or "".
func (l bmcLAN6) address() string {
	if l.enables != ipv6Only && l.enables != ipv6AndIPv4 {
		return ""
	}
	for _, a := range l.dynamic {
		if a.active && (a.source == ipv6SourceSLAAC || a.source == ipv6SourceDHCPv6) && !a.prefix.Addr().IsUnspecified() {
			return a.prefix.Addr().String()
		}
	}
	for _, a := range l.static {
		if a.active && a.enabled && !a.prefix.Addr().IsUnspecified() {
			return a.prefix.Addr().String()
		}
	}
	return ""
}

// hasRoutable reports whether any static or dynamic address slot, whatever
// its status, holds an address that IPA's get_bmc_mac counts as
// configured: its text starts neither with "::" (unset slots, "::/0" or
// "::/255") nor with "fe80" (link-local).
func (l bmcLAN6) hasRoutable() bool {
	for _, slots := range [][]bmcIPv6Addr{l.static, l.dynamic} {
		for _, a := range slots {
			if !a.prefix.IsValid() {
				continue
			}
			s := a.prefix.Addr().String()
			if !strings.HasPrefix(s, "::") && !strings.HasPrefix(s, "fe80") {
				return true
			}
		}
	}
	return false
}

// allZero reports whether every byte of b is zero.
func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// strPtr returns a pointer to s, or to def when s is empty.
func strPtr(s, def string) *string {
	if s == "" {
		s = def
	}
	return &s
}

// orNull returns *p, or "null" for a log line.
func orNull(p *string) string {
	if p == nil {
		return "null"
	}
	return *p
}
