package generic

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/bougou/go-ipmi/pkg/command/app"
	"github.com/bougou/go-ipmi/pkg/command/transport"
	"github.com/bougou/go-ipmi/pkg/open"
	"github.com/bougou/go-ipmi/pkg/types"
)

// ipmiCommandTimeout bounds one IPMI command when the context has no
// deadline (bmc always sets one).
const ipmiCommandTimeout = 2 * time.Second

// errRefused is a command the BMC answered with a completion code other
// than success, or with data that does not decode.
var errRefused = errors.New("refused by the BMC")

// ipmiConn is a bmcConn over the kernel's IPMI device (the OpenIPMI
// driver's /dev/ipmi0) through github.com/bougou/go-ipmi's in-band "open"
// transport. Requests are packed and responses unpacked with go-ipmi's
// command types; only the two commands the inventory needs are sent, Get
// Channel Info and Get LAN Configuration Parameters.
type ipmiConn struct {
	b open.Backend
}

var _ bmcConn = (*ipmiConn)(nil)

// openIPMI opens the in-band IPMI interface. go-ipmi opens device number 0
// itself, trying /dev/ipmi0, /dev/ipmi/0 and /dev/ipmidev/0 in the order
// ipmiDevices lists them, so path, the one found, is the one it opens.
func openIPMI(ctx context.Context, path string) (bmcConn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b := &open.DeviceBackend{}
	if err := b.Connect(ctx, 0); err != nil {
		return nil, fmt.Errorf("connect %s: %w", path, err)
	}
	return &ipmiConn{b: b}, nil
}

// close closes the device.
func (i *ipmiConn) close() error {
	return i.b.Close(context.Background())
}

// exchange sends req to the BMC's system interface and unpacks the answer
// into res. It returns errRefused for a completion code other than
// success, or data that res cannot decode; any other error means the BMC
// could not be asked. Each command gets the time left before ctx's
// deadline, since go-ipmi bounds a command by its own timeout rather than
// by the context.
func (i *ipmiConn) exchange(ctx context.Context, req types.Request, res types.Response) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	timeout := ipmiCommandTimeout
	if d, ok := ctx.Deadline(); ok {
		if timeout = time.Until(d); timeout <= 0 {
			return context.DeadlineExceeded
		}
	}
	cmd := req.Command()
	raw, err := i.b.Send(ctx, &open.Request{NetFn: uint8(cmd.NetFn), Cmd: cmd.ID, Data: req.Pack()}, timeout)
	if err != nil {
		return fmt.Errorf("%s: %w", cmd.Name, err)
	}
	if len(raw) == 0 {
		return fmt.Errorf("%s: response without completion code", cmd.Name)
	}
	if cc := raw[0]; cc != 0 {
		return fmt.Errorf("%s: completion code %#02x: %w", cmd.Name, cc, errRefused)
	}
	if err := res.Unpack(raw[1:]); err != nil {
		return fmt.Errorf("%s: %v: %w", cmd.Name, err, errRefused)
	}
	return nil
}

// lan reads the channel's medium (Get Channel Info), then its IP Address
// and MAC Address parameters.
func (i *ipmiConn) lan(ctx context.Context, channel uint8) (bmcLAN, error) {
	info := &app.GetChannelInfoResponse{}
	err := i.exchange(ctx, &app.GetChannelInfoRequest{ChannelNumber: channel}, info)
	if errors.Is(err, errRefused) {
		return bmcLAN{}, errNotLANChannel
	}
	if err != nil {
		return bmcLAN{}, fmt.Errorf("channel info: %w", err)
	}
	// ipmitool's is_lan_channel: 802.3 LAN or "other LAN".
	switch types.ChannelMedium(uint8(info.ChannelMedium) & 0x7f) {
	case types.ChannelMediumLAN, types.ChannelMediumOtherLAN:
	default:
		return bmcLAN{}, errNotLANChannel
	}
	var out bmcLAN
	ip := &types.LanConfigParam_IP{}
	ok, err := i.param(ctx, channel, ip)
	if err != nil {
		return bmcLAN{}, err
	}
	if v4 := ip.IP.To4(); ok && v4 != nil {
		out.ipv4 = netip.AddrFrom4([4]byte(v4))
	}
	mac := &types.LanConfigParam_MAC{}
	if ok, err = i.param(ctx, channel, mac); err != nil {
		return bmcLAN{}, err
	}
	if ok {
		out.mac = append(net.HardwareAddr(nil), mac.MAC...)
	}
	return out, nil
}

// lan6 reads the channel's IPv6/IPv4 Addressing Enables, then, as many as
// IPv6 Status says the BMC has, its static and dynamic IPv6 addresses.
func (i *ipmiConn) lan6(ctx context.Context, channel uint8) (bmcLAN6, error) {
	out := bmcLAN6{enables: ipv6Unknown}
	enables := &types.LanConfigParam_IPv6Enables{}
	ok, err := i.param(ctx, channel, enables)
	if err != nil {
		return bmcLAN6{}, err
	}
	if ok {
		out.enables = ipv6Enables(enables.EnableMode)
	}
	status := &types.LanConfigParam_IPv6Status{}
	if ok, err = i.param(ctx, channel, status); err != nil || !ok {
		return out, err
	}
	for n := range status.StaticAddressMax {
		a := &types.LanConfigParam_IPv6StaticAddress{SetSelector: n}
		ok, err := i.param(ctx, channel, a)
		if err != nil {
			return bmcLAN6{}, err
		}
		if ok {
			out.static = append(out.static, ipv6Slot(a.IPv6, a.PrefixLength, a.Enabled, 0, a.Status))
		}
	}
	for n := range status.DynamicAddressMax {
		a := &types.LanConfigParam_IPv6DynamicAddress{SetSelector: n}
		ok, err := i.param(ctx, channel, a)
		if err != nil {
			return bmcLAN6{}, err
		}
		if ok {
			out.dynamic = append(out.dynamic, ipv6Slot(a.IPv6, a.PrefixLength, false, uint8(a.Source), a.Status))
		}
	}
	return out, nil
}

// ipv6Slot converts one address parameter. An address that is not 16
// bytes, or a prefix length over 128, gives an invalid prefix.
func ipv6Slot(ip net.IP, bits uint8, enabled bool, source uint8, status types.LanIPv6AddressStatus) bmcIPv6Addr {
	s := bmcIPv6Addr{enabled: enabled, source: source, active: status == types.LanIPv6AddressStatus_Active}
	if a, ok := netip.AddrFromSlice(ip); ok && a.Is6() && bits <= 128 {
		s.prefix = netip.PrefixFrom(a, int(bits))
	}
	return s
}

// param reads one LAN configuration parameter into p. ok is false when the
// BMC refuses it (a completion code such as "parameter not supported") or
// its data is too short; err is set only when the BMC could not be asked.
func (i *ipmiConn) param(ctx context.Context, channel uint8, p types.LanConfigParameter) (ok bool, err error) {
	sel, set, block := p.LanConfigParameter()
	res := &transport.GetLanConfigParamResponse{}
	err = i.exchange(ctx, &transport.GetLanConfigParamRequest{ChannelNumber: channel, ParamSelector: sel, SetSelector: set, BlockSelector: block}, res)
	if errors.Is(err, errRefused) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("LAN parameter %s of channel %d: %w", sel, channel, err)
	}
	return p.Unpack(res.ParamData) == nil, nil
}
