package generic

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bougou/go-ipmi/pkg/open"
	"github.com/google/go-cmp/cmp"
)

// fakeBackend is a go-ipmi open.Backend in front of a fake BMC: it
// answers Get Channel Info and Get LAN Configuration Parameters as a BMC
// would, refusals as completion codes included.
type fakeBackend struct {
	bmc *fakeBMC
	// err, when set, is the transport failure of every Send.
	err error
	// sent counts the requests.
	sent int
}

var _ open.Backend = (*fakeBackend)(nil)

func (f *fakeBackend) Connect(ctx context.Context, devnum int32) error { return nil }
func (f *fakeBackend) Close(ctx context.Context) error                 { return nil }

// Send answers a request to the BMC's system interface as completion code
// then data.
func (f *fakeBackend) Send(ctx context.Context, req *open.Request, timeout time.Duration) ([]byte, error) {
	f.sent++
	if f.err != nil {
		return nil, f.err
	}
	if req.UsesIPMB() || req.LUN != 0 || timeout <= 0 {
		return nil, fmt.Errorf("fake BMC: want the system interface, LUN 0 and a timeout, got %+v, %v", req, timeout)
	}
	data, cc := fakeBMCAnswer(f.bmc, req.NetFn, req.Cmd, req.Data)
	return append([]byte{cc}, data...), nil
}

// TestIPMIConn checks ipmiConn's IPMI messages and their decoding against
// a fake BMC behind go-ipmi's transport: what ipmiConn reads must be what
// the fake BMC holds, channel by channel, so that queryBMC gives the same
// values over either.
func TestIPMIConn(t *testing.T) {
	extra := filepath.Join(t.TempDir(), "extra.json")
	if err := os.WriteFile(extra, []byte(`{"channels": {
		"1": {"medium": "other-lan", "ipv4": "192.0.2.1", "ipv6_enables": "ipv6",
		      "dynamic": [{"address": "2001:db8::1/64", "source": "DHCPv6", "status": "active"}]},
		"2": {"mac": "02:00:00:00:00:02", "static": [{"address": "2001:db8::2/128", "status": "failed"}]},
		"4": {"medium": "ipmb"},
		"5": {"medium": "system"},
		"11": {"ipv4": "0.0.0.0", "mac": "02:00:00:00:00:0b"},
		"12": {"ipv4": "192.0.2.12", "mac": "02:00:00:00:00:0c"}
	}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := cmp.Options{
		cmp.AllowUnexported(bmcLAN{}, bmcLAN6{}, bmcIPv6Addr{}),
		cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
		cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
		cmp.Comparer(func(a, b net.HardwareAddr) bool { return a.String() == b.String() }),
	}
	for _, path := range []string{filepath.Join("testdata", "server", "dev", "ipmi0"), extra} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			want, err := readFakeBMC(path)
			if err != nil {
				t.Fatal(err)
			}
			conn := &ipmiConn{b: &fakeBackend{bmc: want}}
			ctx := context.Background()
			for ch := uint8(bmcFirstChannel); ch <= bmcLastChannel; ch++ {
				wl, werr := want.lan(ctx, ch)
				gl, gerr := conn.lan(ctx, ch)
				if !sameErr(werr, gerr) {
					t.Fatalf("channel %d lan: error %v, want %v", ch, gerr, werr)
				}
				if diff := cmp.Diff(wl, gl, opts); diff != "" {
					t.Errorf("channel %d lan (-fake +ipmi):\n%s", ch, diff)
				}
				if werr != nil {
					continue
				}
				w6, werr := want.lan6(ctx, ch)
				g6, gerr := conn.lan6(ctx, ch)
				if !sameErr(werr, gerr) {
					t.Fatalf("channel %d lan6: error %v, want %v", ch, gerr, werr)
				}
				if diff := cmp.Diff(w6, g6, opts); diff != "" {
					t.Errorf("channel %d lan6 (-fake +ipmi):\n%s", ch, diff)
				}
			}
			if err := conn.close(); err != nil {
				t.Error(err)
			}
		})
	}

	broken := errors.New("ioctl: no such device")
	t.Run("transport failure", func(t *testing.T) {
		b := &fakeBackend{err: broken}
		_, err := queryBMC(context.Background(), &ipmiConn{b: b})
		if !errors.Is(err, broken) || errors.Is(err, errNotLANChannel) {
			t.Errorf("error %v, want %v", err, broken)
		}
		if b.sent != 1 {
			t.Errorf("sent %d requests after a transport failure, want 1", b.sent)
		}
	})
	t.Run("context ended", func(t *testing.T) {
		b := &fakeBackend{bmc: &fakeBMC{}}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := (&ipmiConn{b: b}).lan(ctx, 1); !errors.Is(err, context.Canceled) || b.sent != 0 {
			t.Errorf("lan after cancel: error %v after %d requests, want context.Canceled before any", err, b.sent)
		}
	})
}

// sameErr reports whether both are nil or both errNotLANChannel.
func sameErr(want, got error) bool {
	if want == nil || got == nil {
		return want == got
	}
	return errors.Is(want, errNotLANChannel) && errors.Is(got, errNotLANChannel)
}

// TestOpenIPMIWithoutDevice checks that the live opener fails, rather than
// hangs or panics, where there is no IPMI device (this build machine).
func TestOpenIPMIWithoutDevice(t *testing.T) {
	s := liveSystem()
	if s.ipmiDevice() != "" {
		t.Skip("this machine has an IPMI device")
	}
	conn, err := openIPMI(context.Background(), "/dev/ipmi0")
	if err == nil {
		conn.close()
		t.Fatal("opened an IPMI device that does not exist")
	}
}

// IPMI completion codes the fake BMC answers with.
const (
	ccParamNotSupported = 0x80
	ccOutOfRange        = 0xc9
	ccInvalidField      = 0xcc
	ccInvalidCommand    = 0xc1
)

// fakeBMCMedia are the channel medium numbers of IPMI's Table 6-3.
var fakeBMCMedia = map[string]byte{"": 0x04, "lan": 0x04, "other-lan": 0x06, "ipmb": 0x01, "serial": 0x05, "system": 0x0c}

// fakeBMCAnswer is the fake BMC's response data to one request, or its
// completion code.
func fakeBMCAnswer(bmc *fakeBMC, netFn, cmd byte, data []byte) ([]byte, byte) {
	switch {
	case netFn == 0x06 && cmd == 0x42 && len(data) == 1: // Get Channel Info
		c, ok := bmc.Channels[data[0]&0x0f]
		if !ok {
			return nil, ccInvalidField
		}
		return []byte{data[0] & 0x0f, fakeBMCMedia[c.Medium], 0x01, 0x80, 0xf2, 0x1b, 0x00, 0x00, 0x00}, 0
	case netFn == 0x0c && cmd == 0x02 && len(data) == 4: // Get LAN Configuration Parameters
		c, ok := bmc.Channels[data[0]&0x0f]
		if !ok || !c.isLAN() {
			return nil, ccInvalidField
		}
		l, l6, err := c.parse()
		if err != nil {
			return nil, ccInvalidField
		}
		const rev = 0x11
		param, set := data[1], data[2]
		switch param {
		case 3:
			if l.ipv4.IsValid() {
				a := l.ipv4.As4()
				return append([]byte{rev}, a[:]...), 0
			}
		case 5:
			if l.mac != nil {
				return append([]byte{rev}, l.mac...), 0
			}
		case 51:
			if l6.enables != ipv6Unknown {
				return []byte{rev, byte(l6.enables)}, 0
			}
		case 55:
			if l6.enables != ipv6Unknown || len(l6.static)+len(l6.dynamic) > 0 {
				return []byte{rev, byte(len(l6.static)), byte(len(l6.dynamic)), 0x03}, 0
			}
		case 56, 59:
			slots, first := l6.static, func(a bmcIPv6Addr) byte {
				if a.enabled {
					return 0x80
				}
				return 0
			}
			if param == 59 {
				slots, first = l6.dynamic, func(a bmcIPv6Addr) byte { return a.source & 0x0f }
			}
			if int(set) >= len(slots) {
				return nil, ccOutOfRange
			}
			a := slots[set]
			status := byte(1)
			if a.active {
				status = 0
			}
			addr := a.prefix.Addr().As16()
			out := append([]byte{rev, set, first(a)}, addr[:]...)
			return append(out, byte(a.prefix.Bits()), status), 0
		}
		return nil, ccParamNotSupported
	}
	return nil, ccInvalidCommand
}
