package generic

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"
	"github.com/mdlayher/packet"
	"golang.org/x/sys/unix"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// readHexFrame reads testdata/lldp/name: hex digits, with '#' comments and
// white space ignored.
func readHexFrame(t *testing.T, name string) []byte {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "lldp", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var digits strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		digits.WriteString(strings.Join(strings.Fields(line), ""))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	b, err := hex.DecodeString(digits.String())
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return b
}

// switchTLVs are IPA's pairs for testdata/lldp/switch.hex.
var switchTLVs = []sdk.LLDPTLV{
	tlv(1, "04001b213c4d5e"),
	tlv(2, "05"+hex.EncodeToString([]byte("Ethernet1/3"))),
	tlv(3, "0078"),
	tlv(4, hex.EncodeToString([]byte("uplink to node-07"))),
	tlv(5, hex.EncodeToString([]byte("leaf-sw01.example.net"))),
	tlv(7, "00140014"),
	tlv(8, "0501c000020a020000000100"),
	tlv(127, "0080c2010064"),
	tlv(127, "00120f01036c030010"),
	tlv(0, ""),
}

func TestParseLLDPFrame(t *testing.T) {
	end := sdk.LLDPTLV{Type: 0, Value: ""}
	padded := []sdk.LLDPTLV{
		tlv(1, "07"+hex.EncodeToString([]byte("host-a"))),
		tlv(2, "03525400a1b2c3"),
		tlv(3, "0014"),
		end, // End of LLDPDU, then 11 pairs of padding bytes
	}
	for range 11 {
		padded = append(padded, end)
	}
	header, _ := hex.DecodeString("0180c200000e001b213c4d5e88cc")

	tests := []struct {
		name  string
		frame []byte
		size  int // expected frame length, 0 to skip the check
		want  []sdk.LLDPTLV
	}{
		{name: "switch.hex", size: 14 + 9 + 14 + 4 + 19 + 23 + 6 + 14 + 8 + 11 + 2, want: switchTLVs},
		{name: "padded.hex", size: 60, want: padded},
		{name: "truncated.hex", want: []sdk.LLDPTLV{tlv(1, "04001b213c4d5e"), tlv(5, "6c656166")}},
		{name: "empty frame", frame: []byte{}, want: []sdk.LLDPTLV{}},
		{name: "shorter than the Ethernet header", frame: header[:13], want: []sdk.LLDPTLV{}},
		{name: "Ethernet header only", frame: header, want: []sdk.LLDPTLV{}},
		{name: "trailing byte ignored", frame: append(append([]byte{}, header...), 0x06, 0x02, 0x00, 0x78, 0xab), want: []sdk.LLDPTLV{tlv(3, "0078")}},
		{name: "header cut short", frame: append(append([]byte{}, header...), 0xfe), want: []sdk.LLDPTLV{}},
		{name: "zero-length TLV", frame: append(append([]byte{}, header...), 0x08, 0x00), want: []sdk.LLDPTLV{tlv(4, "")}},
		{name: "largest type and length", frame: append(append([]byte{}, header...), append([]byte{0xff, 0xff}, bytes.Repeat([]byte{0xAB}, 511)...)...), want: []sdk.LLDPTLV{tlv(127, strings.Repeat("ab", 511))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frame := tt.frame
			if frame == nil {
				frame = readHexFrame(t, tt.name)
			}
			if tt.size != 0 && len(frame) != tt.size {
				t.Fatalf("frame is %d bytes, want %d", len(frame), tt.size)
			}
			got := parseLLDPFrame(frame)
			if got == nil {
				t.Fatal("parseLLDPFrame returned nil, want a list")
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("pairs differ (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLLDPPairsJSON(t *testing.T) {
	ifc := sdk.NetworkInterface{LLDP: parseLLDPFrame(readHexFrame(t, "switch.hex"))[:3]}
	b, err := json.Marshal(ifc)
	if err != nil {
		t.Fatal(err)
	}
	want := `"lldp":[[1,"04001b213c4d5e"],[2,"05457468657` + `26e6574312f33"],[3,"0078"]]`
	if !strings.Contains(string(b), want) {
		t.Errorf("JSON %s\ndoes not contain %s", b, want)
	}
	b, _ = json.Marshal(sdk.NetworkInterface{LLDP: []sdk.LLDPTLV{}})
	if !strings.Contains(string(b), `"lldp":[]`) {
		t.Errorf("empty list: JSON %s, want \"lldp\":[]", b)
	}
}

func TestParseLLDPConfig(t *testing.T) {
	tests := []struct {
		params map[string]string
		want   lldpConfig
	}{
		{nil, lldpConfig{false, 30 * time.Second}},
		{map[string]string{"ipa-collect-lldp": "1"}, lldpConfig{true, 30 * time.Second}},
		{map[string]string{"ipa-collect-lldp": "True"}, lldpConfig{true, 30 * time.Second}},
		{map[string]string{"ipa-collect-lldp": "YES"}, lldpConfig{true, 30 * time.Second}},
		{map[string]string{"ipa-collect-lldp": "on"}, lldpConfig{true, 30 * time.Second}},
		{map[string]string{"ipa-collect-lldp": "0"}, lldpConfig{false, 30 * time.Second}},
		{map[string]string{"ipa-collect-lldp": "false"}, lldpConfig{false, 30 * time.Second}},
		{map[string]string{"ipa-collect-lldp": ""}, lldpConfig{false, 30 * time.Second}},
		{map[string]string{"ipa-collect-lldp": "true", "ipa-lldp-timeout": "2.5"}, lldpConfig{true, 2500 * time.Millisecond}},
		{map[string]string{"ipa-lldp-timeout": "10"}, lldpConfig{false, 10 * time.Second}},
		{map[string]string{"ipa-lldp-timeout": "0"}, lldpConfig{false, 0}},
		{map[string]string{"ipa-lldp-timeout": "soon"}, lldpConfig{false, 30 * time.Second}},
		{map[string]string{"ipa-lldp-timeout": "-1"}, lldpConfig{false, 30 * time.Second}},
		{map[string]string{"ipa-lldp-timeout": "NaN"}, lldpConfig{false, 30 * time.Second}},
		{map[string]string{"ipa-lldp-timeout": "1e300"}, lldpConfig{false, 30 * time.Second}},
	}
	for _, tt := range tests {
		if got := parseLLDPConfig(tt.params, hclog.NewNullLogger()); got != tt.want {
			t.Errorf("parseLLDPConfig(%v) = %+v, want %+v", tt.params, got, tt.want)
		}
	}
}

func TestLLDPWait(t *testing.T) {
	if got := lldpWait(context.Background(), 30*time.Second); got != 30*time.Second {
		t.Errorf("no deadline: %v, want 30s", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if got := lldpWait(ctx, 30*time.Second); got > 28*time.Second || got < 27*time.Second {
		t.Errorf("30s deadline, 30s timeout: %v, want just under 28s", got)
	}
	if got := lldpWait(ctx, 5*time.Second); got != 5*time.Second {
		t.Errorf("30s deadline, 5s timeout: %v, want 5s", got)
	}
	short, cancel2 := context.WithTimeout(context.Background(), time.Second)
	defer cancel2()
	if got := lldpWait(short, 30*time.Second); got > 900*time.Millisecond || got < 800*time.Millisecond {
		t.Errorf("1s deadline: %v, want about 0.9s", got)
	}
	done, cancel3 := context.WithTimeout(context.Background(), 0)
	defer cancel3()
	if got := lldpWait(done, 30*time.Second); got != 0 {
		t.Errorf("expired deadline: %v, want 0", got)
	}
}

// TestInventoryLLDP checks the wiring: with ipa-collect-lldp the collector
// runs once for the inventory's interfaces and its data lands in lldp;
// without it no collector runs and lldp stays null.
func TestInventoryLLDP(t *testing.T) {
	root := loadFixture(t, "vm")
	lldpOf := func(t *testing.T, inv *sdk.Inventory) map[string]any {
		t.Helper()
		b, err := json.Marshal(inv.Interfaces)
		if err != nil {
			t.Fatal(err)
		}
		var ifcs []map[string]any
		if err := json.Unmarshal(b, &ifcs); err != nil {
			t.Fatal(err)
		}
		out := map[string]any{}
		for _, ifc := range ifcs {
			out[ifc["name"].(string)] = ifc["lldp"]
		}
		return out
	}
	run := func(t *testing.T, params map[string]string, calls *atomic.Int32, times int) map[string]any {
		t.Helper()
		s := fixtureSystem(root, "vm", nil)
		s.lldp = func(ctx context.Context, names []string, wait time.Duration, log hclog.Logger) map[string][]sdk.LLDPTLV {
			calls.Add(1)
			if want := []string{"eth0"}; !cmp.Equal(names, want) {
				t.Errorf("collector names %q, want %q", names, want)
			}
			if wait != 1500*time.Millisecond {
				t.Errorf("collector wait %v, want 1.5s", wait)
			}
			return map[string][]sdk.LLDPTLV{"eth0": switchTLVs[:2]}
		}
		m := newManager(s, testLogger(t))
		if _, err := m.EvaluateHardwareSupport(context.Background(), sdk.HostConfig{KernelParams: params}); err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		for range times {
			inv, err := m.Inventory(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			got = lldpOf(t, inv)
		}
		return got
	}

	t.Run("enabled", func(t *testing.T) {
		var calls atomic.Int32
		got := run(t, map[string]string{"ipa-collect-lldp": "Yes", "ipa-lldp-timeout": "1.5"}, &calls, 3)
		want := map[string]any{"eth0": []any{
			[]any{1.0, "04001b213c4d5e"},
			[]any{2.0, "05" + hex.EncodeToString([]byte("Ethernet1/3"))},
		}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("lldp differs (-want +got):\n%s", diff)
		}
		if n := calls.Load(); n != 1 {
			t.Errorf("collector ran %d times for 3 inventories, want 1", n)
		}
	})
	t.Run("disabled", func(t *testing.T) {
		var calls atomic.Int32
		got := run(t, map[string]string{"ipa-lldp-timeout": "1.5"}, &calls, 1)
		if diff := cmp.Diff(map[string]any{"eth0": nil}, got); diff != "" {
			t.Errorf("lldp differs (-want +got):\n%s", diff)
		}
		if n := calls.Load(); n != 0 {
			t.Errorf("collector ran %d times, want 0", n)
		}
	})
}

// TestCollectLLDPNetns runs the live collector on a veth pair inside a
// network namespace of its own: a frame written on one end is collected on
// the other, and without a frame the wait ends at the timeout. Needs root
// and ip(8).
func TestCollectLLDPNetns(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs ip(8)")
	}
	suffix := fmt.Sprintf("%d%d", os.Getpid()%100000, time.Now().UnixNano()%1000)
	ns := "mtest-lldp-" + suffix
	a, b := "lla"+suffix, "llb"+suffix // at most 11 characters
	down := "lld" + suffix
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	ip("netns", "add", ns)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "delete", ns).CombinedOutput(); err != nil {
			t.Errorf("ip netns delete %s: %v\n%s", ns, err, out)
		}
	})
	ip("-n", ns, "link", "add", a, "type", "veth", "peer", "name", b)
	ip("-n", ns, "link", "add", down, "type", "veth", "peer", "name", "lle"+suffix)
	ip("-n", ns, "link", "set", a, "up")
	ip("-n", ns, "link", "set", b, "up")

	frame := readHexFrame(t, "switch.hex")
	log := testLogger(t)

	t.Run("frame", func(t *testing.T) {
		inNetns(t, ns, func() {
			send, err := listenByName(a)
			if err != nil {
				t.Error(err)
				return
			}
			defer send.Close()
			stop := make(chan struct{})
			sent := make(chan error, 1)
			go func() {
				// Repeat until the collector has its frame: its socket may
				// open after the first one is sent.
				tick := time.NewTicker(50 * time.Millisecond)
				defer tick.Stop()
				for {
					if _, err := send.WriteTo(frame, &packet.Addr{HardwareAddr: frame[:6]}); err != nil {
						sent <- err
						return
					}
					select {
					case <-stop:
						sent <- nil
						return
					case <-tick.C:
					}
				}
			}()
			start := time.Now()
			got := collectLLDP(context.Background(), []string{b, down}, 10*time.Second, log)
			close(stop)
			if err := <-sent; err != nil {
				t.Errorf("send: %v", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("collection took %v, want well under the 10s timeout", d)
			}
			want := map[string][]sdk.LLDPTLV{b: switchTLVs} // down is down: left out
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("collected data differs (-want +got):\n%s", diff)
			}
		})
	})

	t.Run("timeout", func(t *testing.T) {
		inNetns(t, ns, func() {
			start := time.Now()
			got := collectLLDP(context.Background(), []string{b, "nosuch" + suffix}, 300*time.Millisecond, log)
			d := time.Since(start)
			if d < 300*time.Millisecond || d > 3*time.Second {
				t.Errorf("collection took %v, want the 300ms timeout", d)
			}
			want := map[string][]sdk.LLDPTLV{b: {}, "nosuch" + suffix: nil}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("collected data differs (-want +got):\n%s", diff)
			}
			if got[b] == nil {
				t.Errorf("%s: nil, want an empty list (IPA's [] for no frame)", b)
			}
		})
	})

	t.Run("context", func(t *testing.T) {
		inNetns(t, ns, func() {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			start := time.Now()
			got := collectLLDP(ctx, []string{b}, 30*time.Second, log)
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("collection took %v after the context ended at 200ms", d)
			}
			if v, ok := got[b]; !ok || v != nil {
				t.Errorf("%s: %v (present %v), want nil after the context ended", b, v, ok)
			}
		})
	})
}

// listenByName opens a raw LLDP socket on the named interface.
func listenByName(name string) (*packet.Conn, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, err
	}
	return packet.Listen(ifi, packet.Raw, lldpEtherType, nil)
}

// inNetns runs f on an OS thread moved into the named network namespace.
// The thread stays locked and is discarded when f returns, so no other
// goroutine ever runs in the namespace by accident. Sockets f opens belong
// to the namespace whichever goroutine later uses them.
func inNetns(t *testing.T, ns string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		fd, err := unix.Open(filepath.Join("/run/netns", ns), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Errorf("open namespace %s: %v", ns, err)
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			t.Errorf("setns %s: %v", ns, err)
			return
		}
		f()
	}()
	<-done
}

// tlv returns the pair [typ, value].
func tlv(typ int, value string) sdk.LLDPTLV { return sdk.LLDPTLV{Type: typ, Value: value} }
