package generic

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// unconfigured is a LAN channel as BMCs report it before anyone set it
// up: no IPv4 address, a MAC, IPv6 off with only a link-local address.
var unconfigured = fakeChannel{
	IPv4: "0.0.0.0", MAC: "ac:1f:6b:00:00:0a", IPv6Enables: "ipv4",
	Static:  []fakeIPv6{{Address: "::/64", Status: "disabled"}},
	Dynamic: []fakeIPv6{{Address: "fe80::ae1f:6bff:fe00:a/64", Source: "SLAAC", Status: "active"}},
}

func TestQueryBMC(t *testing.T) {
	tests := []struct {
		name        string
		channels    map[uint8]fakeChannel
		v4, v6, mac *string
		// asked, when set, are the calls expected, in order.
		asked []string
	}{
		{
			name: "no LAN channel",
			channels: map[uint8]fakeChannel{
				1: {Medium: "serial"}, 15: {IPv4: "192.0.2.9", MAC: "02:00:00:00:00:09"},
			},
			v4: sdk.Ptr("0.0.0.0"), v6: sdk.Ptr("::/0"),
		},
		{
			name:     "LAN channel not configured",
			channels: map[uint8]fakeChannel{1: unconfigured},
			v4:       sdk.Ptr("0.0.0.0"), v6: sdk.Ptr("::/0"),
		},
		{
			name: "first configured channel wins, IPv4 only",
			channels: map[uint8]fakeChannel{
				1: unconfigured,
				2: {Medium: "ipmb"},
				4: {Medium: "other-lan", IPv4: "192.0.2.4", MAC: "02:00:00:00:00:04", IPv6Enables: "ipv4"},
				6: {IPv4: "192.0.2.6", MAC: "02:00:00:00:00:06", IPv6Enables: "both",
					Static: []fakeIPv6{{Address: "2001:db8::6/64", Enabled: true, Status: "active"}}},
			},
			v4: sdk.Ptr("192.0.2.4"), v6: sdk.Ptr("2001:db8::6"), mac: sdk.Ptr("02:00:00:00:00:04"),
		},
		{
			name: "all found on channel 1: nothing more is asked",
			channels: map[uint8]fakeChannel{
				1: {IPv4: "192.0.2.1", MAC: "02:00:00:00:00:01", IPv6Enables: "ipv6",
					Dynamic: []fakeIPv6{{Address: "2001:db8::1/64", Source: "DHCPv6", Status: "active"}}},
				2: {IPv4: "192.0.2.2", MAC: "02:00:00:00:00:02"},
			},
			v4: sdk.Ptr("192.0.2.1"), v6: sdk.Ptr("2001:db8::1"), mac: sdk.Ptr("02:00:00:00:00:01"),
			asked: []string{"lan 1", "lan6 1"},
		},
		{
			name: "IPv6 found first: later channels' IPv6 is not read for an IPv4 MAC",
			channels: map[uint8]fakeChannel{
				1: {IPv4: "0.0.0.0", MAC: "00:00:00:00:00:00", IPv6Enables: "both",
					Static: []fakeIPv6{{Address: "2001:db8::1/64", Enabled: true, Status: "active"}}},
				3: {IPv4: "192.0.2.3", MAC: "02:00:00:00:00:03"},
			},
			v4: sdk.Ptr("192.0.2.3"), v6: sdk.Ptr("2001:db8::1"), mac: sdk.Ptr("02:00:00:00:00:03"),
			asked: []string{"lan 1", "lan6 1", "lan 2", "lan 3"},
		},
		{
			name: "MAC of a channel with only an IPv6 address",
			channels: map[uint8]fakeChannel{
				1: unconfigured,
				2: {IPv4: "0.0.0.0", MAC: "02:00:00:00:00:02", IPv6Enables: "ipv6",
					Static: []fakeIPv6{{Address: "::/0", Status: "disabled"}, {Address: "2001:db8::2/64", Enabled: true, Status: "active"}}},
				3: {IPv4: "192.0.2.3", MAC: "02:00:00:00:00:03"},
			},
			v4: sdk.Ptr("192.0.2.3"), v6: sdk.Ptr("2001:db8::2"), mac: sdk.Ptr("02:00:00:00:00:02"),
		},
		{
			// IPA's get_bmc_mac looks at every slot's text, whatever its
			// status, and counts all but "::..." and "fe80...".
			name: "MAC: a disabled IPv6 slot counts, link-local and ::ffff: do not",
			channels: map[uint8]fakeChannel{
				1: {IPv4: "0.0.0.0", MAC: "02:00:00:00:00:01",
					Dynamic: []fakeIPv6{{Address: "fe80::1/64", Source: "SLAAC", Status: "active"}, {Address: "::ffff:192.0.2.1/128", Source: "static", Status: "active"}}},
				2: {IPv4: "0.0.0.0", MAC: "02:00:00:00:00:02",
					Static: []fakeIPv6{{Address: "2001:db8::2/64", Status: "disabled"}}},
			},
			v4: sdk.Ptr("0.0.0.0"), v6: sdk.Ptr("::/0"), mac: sdk.Ptr("02:00:00:00:00:02"),
		},
		{
			name: "zero MAC and unreported parameters skip the channel",
			channels: map[uint8]fakeChannel{
				1: {IPv4: "192.0.2.1", MAC: "00:00:00:00:00:00"},
				2: {MAC: "02:00:00:00:00:02"},
				3: {IPv4: "192.0.2.3"},
				4: {IPv4: "192.0.2.4", MAC: "02:00:00:00:00:04"},
			},
			v4: sdk.Ptr("192.0.2.1"), v6: sdk.Ptr("::/0"), mac: sdk.Ptr("02:00:00:00:00:04"),
		},
		{
			name: "IPv6: dynamic before static, only SLAAC or DHCPv6, active, not ::",
			channels: map[uint8]fakeChannel{
				1: {IPv6Enables: "both",
					Static: []fakeIPv6{{Address: "2001:db8::a/64", Enabled: true, Status: "active"}},
					Dynamic: []fakeIPv6{
						{Address: "2001:db8::1/64", Source: "static", Status: "active"},
						{Address: "2001:db8::2/64", Source: "SLAAC", Status: "pending"},
						{Address: "::/64", Source: "DHCPv6", Status: "active"},
						{Address: "2001:db8::4/64", Source: "DHCPv6", Status: "active"},
					}},
			},
			v4: sdk.Ptr("0.0.0.0"), v6: sdk.Ptr("2001:db8::4"),
		},
		{
			name: "IPv6: static needs enabled and active; link-local is taken as IPA does",
			channels: map[uint8]fakeChannel{
				1: {IPv6Enables: "ipv6", Static: []fakeIPv6{
					{Address: "2001:db8::1/64", Status: "active"},
					{Address: "2001:db8::2/64", Enabled: true, Status: "failed"},
				}},
				2: {IPv6Enables: "ipv4", Static: []fakeIPv6{{Address: "2001:db8::3/64", Enabled: true, Status: "active"}}},
				3: {Static: []fakeIPv6{{Address: "2001:db8::4/64", Enabled: true, Status: "active"}}},
				5: {IPv6Enables: "both", Dynamic: []fakeIPv6{{Address: "fe80::5/64", Source: "SLAAC", Status: "active"}}},
			},
			v4: sdk.Ptr("0.0.0.0"), v6: sdk.Ptr("fe80::5"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeBMC{Channels: tt.channels}
			got, err := queryBMC(context.Background(), f)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]*string{tt.v4, tt.v6, tt.mac}, []*string{got.v4, got.v6, got.mac}); diff != "" {
				t.Errorf("bmc_address, bmc_v6address, bmc_mac (-want +got):\n%s", diff)
			}
			for _, a := range f.asked {
				var what string
				var ch int
				if _, err := fmt.Sscan(a, &what, &ch); err != nil || ch < bmcFirstChannel || ch > bmcLastChannel {
					t.Errorf("asked %q, outside channels 1 to 11", a)
				}
			}
			if tt.asked != nil {
				if diff := cmp.Diff(tt.asked, f.asked); diff != "" {
					t.Errorf("calls (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestQueryBMCErrors(t *testing.T) {
	broken := errors.New("ipmi: no response")
	channels := map[uint8]fakeChannel{
		1: unconfigured,
		2: {IPv4: "192.0.2.2", MAC: "02:00:00:00:00:02"},
	}
	for _, ok := range []int{0, 1, 2} {
		f := &fakeBMC{Channels: channels, err: broken, ok: ok}
		got, err := queryBMC(context.Background(), f)
		if !errors.Is(err, broken) {
			t.Errorf("failing after %d calls: error %v, want %v", ok, err, broken)
		}
		if got != (bmcInfo{}) {
			t.Errorf("failing after %d calls: got %+v, want nothing", ok, got)
		}
	}
}

// logLines parses the JSON lines a test logger wrote.
func logLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(buf)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// jsonLogger logs every level as JSON lines into buf.
func jsonLogger(buf io.Writer) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Output: buf, JSONFormat: true, Level: hclog.Trace})
}

func TestSystemBMC(t *testing.T) {
	broken := errors.New("ipmi: no response")
	tests := []struct {
		name   string
		device string // under dev/, "" for none
		// bmc is what the opener returns; nil with openErr.
		bmc     *fakeBMC
		openErr error
		// parent bounds the call's context, 0 for none.
		parent      time.Duration
		v4, v6, mac *string
		level       string
		errIs       error
	}{
		{name: "no IPMI device", v4: sdk.Ptr("0.0.0.0"), v6: sdk.Ptr("::/0"), level: "debug"},
		{
			name: "ipmi0", device: "ipmi0",
			bmc: &fakeBMC{Channels: map[uint8]fakeChannel{1: {IPv4: "192.0.2.1", MAC: "02:00:00:00:00:01"}}},
			v4:  sdk.Ptr("192.0.2.1"), v6: sdk.Ptr("::/0"), mac: sdk.Ptr("02:00:00:00:00:01"),
			level: "debug",
		},
		{
			name: "ipmidev/0, no LAN channel", device: "ipmidev/0",
			bmc: &fakeBMC{}, v4: sdk.Ptr("0.0.0.0"), v6: sdk.Ptr("::/0"), level: "debug",
		},
		{name: "open fails", device: "ipmi/0", openErr: broken, level: "warn", errIs: broken},
		{
			name: "BMC stops answering", device: "ipmi0",
			bmc:   &fakeBMC{Channels: map[uint8]fakeChannel{1: unconfigured}, err: broken, ok: 2},
			level: "warn", errIs: broken,
		},
		{
			name: "BMC hangs past the caller's deadline", device: "ipmi0",
			bmc: &fakeBMC{block: true}, parent: 50 * time.Millisecond, level: "warn",
		},
		{
			name: "BMC hangs past bmcTimeout", device: "ipmi0",
			bmc: &fakeBMC{block: true}, level: "warn",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if testing.Short() && tt.parent == 0 && tt.bmc != nil && tt.bmc.block {
				t.Skip("waits for bmcTimeout")
			}
			files := map[string]string{"dev/null": ""}
			if tt.device != "" {
				files["dev/"+tt.device] = ""
			}
			s := fixtureSystem(writeTree(t, files), "h", nil)
			var opened []string
			s.openBMC = func(ctx context.Context, path string) (bmcConn, error) {
				opened = append(opened, path)
				if tt.openErr != nil {
					return nil, tt.openErr
				}
				return tt.bmc, nil
			}
			ctx := context.Background()
			if tt.parent > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.parent)
				defer cancel()
			}
			var buf bytes.Buffer
			start := time.Now()
			v4, v6, mac := s.bmc(ctx, jsonLogger(&buf))
			took := time.Since(start)

			if diff := cmp.Diff([]*string{tt.v4, tt.v6, tt.mac}, []*string{v4, v6, mac}); diff != "" {
				t.Errorf("bmc_address, bmc_v6address, bmc_mac (-want +got):\n%s", diff)
			}
			lines := logLines(t, &buf)
			if len(lines) != 1 || lines[0]["@level"] != tt.level {
				t.Fatalf("want one %s line, logged %v", tt.level, lines)
			}
			if tt.errIs != nil && !strings.Contains(fmt.Sprint(lines[0]["error"]), tt.errIs.Error()) {
				t.Errorf("warning %v does not give the cause %q", lines[0], tt.errIs)
			}
			if tt.device == "" {
				if len(opened) != 0 {
					t.Errorf("opened %v without an IPMI device", opened)
				}
				return
			}
			if want := []string{filepath.Join(s.devRoot, tt.device)}; !cmp.Equal(want, opened) {
				t.Errorf("opened %v, want %v", opened, want)
			}
			if tt.bmc == nil {
				return
			}
			if !tt.bmc.closed {
				t.Error("BMC connection left open")
			}
			if left := time.Until(tt.bmc.deadline); tt.bmc.deadline.IsZero() || left > bmcTimeout {
				t.Errorf("query deadline %v away, want at most bmcTimeout (%v)", left, bmcTimeout)
			}
			limit := bmcTimeout
			if tt.parent > 0 {
				limit = tt.parent
			}
			if took > limit+time.Second {
				t.Errorf("took %v, want about %v at most", took, limit)
			}
		})
	}
}

// TestInventoryBMCFailure checks that a BMC that cannot be read leaves the
// three BMC keys out and the rest of the inventory whole.
func TestInventoryBMCFailure(t *testing.T) {
	root := loadFixture(t, "server")
	s := fixtureSystem(root, "server1", nil)
	want, _ := inventoryJSON(t, s, sdk.HostConfig{})
	for _, k := range []string{"bmc_address", "bmc_v6address", "bmc_mac"} {
		if _, ok := want[k]; !ok {
			t.Fatalf("server fixture reports no %s", k)
		}
		delete(want, k)
	}
	s.openBMC = func(ctx context.Context, path string) (bmcConn, error) {
		return &fakeBMC{err: errors.New("ipmi: no response")}, nil
	}
	got, _ := inventoryJSON(t, s, sdk.HostConfig{})
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("inventory with a failing BMC (-want +got):\n%s", diff)
	}
}

// BenchmarkBMCNoDevice measures the path of a machine without a BMC: the
// look for the three device nodes and the debug line (discarded at the
// default info level, as in the plugin).
func BenchmarkBMCNoDevice(b *testing.B) {
	log := hclog.New(&hclog.LoggerOptions{Output: io.Discard, JSONFormat: true})
	for _, bm := range []struct {
		name, dev string
	}{
		{"fixture", filepath.Join("testdata", "vm", "dev")},
		{"live", "/dev"},
	} {
		s := liveSystem()
		s.devRoot = bm.dev
		if s.ipmiDevice() != "" {
			b.Logf("%s: %s has an IPMI device; skipped", bm.name, bm.dev)
			continue
		}
		s.openBMC = func(ctx context.Context, path string) (bmcConn, error) {
			b.Fatalf("opened %s", path)
			return nil, nil
		}
		ctx := context.Background()
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if v4, _, _ := s.bmc(ctx, log); v4 != nil {
					b.Fatal("BMC address without a BMC")
				}
			}
		})
	}
}
