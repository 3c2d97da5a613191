package generic

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/mdlayher/packet"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// LLDP collection, IPA's collect_lldp (netutils.get_lldp_info and
// GenericHardwareManager.collect_lldp_data).
const (
	// lldpEtherType is the Ethernet type of LLDP frames.
	lldpEtherType = 0x88cc
	// lldpReadSize is how much of a frame is read, IPA's recv(1600).
	lldpReadSize = 1600
	// ethHeaderLen is the Ethernet header IPA skips: destination, source,
	// Ethernet type.
	ethHeaderLen = 14
	// defaultLLDPTimeout is IPA's lldp_timeout default.
	defaultLLDPTimeout = 30 * time.Second
	// maxLLDPMargin is the most the wait is kept under the inventory
	// call's deadline, so the inventory still returns in time.
	maxLLDPMargin = 2 * time.Second
)

// lldpConfig is what the kernel parameters ipa-collect-lldp and
// ipa-lldp-timeout ask for.
type lldpConfig struct {
	enabled bool
	timeout time.Duration
}

// parseLLDPConfig reads ipa-collect-lldp (1, true, yes or on, in any case;
// default off) and ipa-lldp-timeout (seconds, a float; default 30) from the
// kernel parameters. An unusable timeout is logged and the default used.
func parseLLDPConfig(params map[string]string, log hclog.Logger) lldpConfig {
	c := lldpConfig{timeout: defaultLLDPTimeout}
	switch strings.ToLower(strings.TrimSpace(params["ipa-collect-lldp"])) {
	case "1", "true", "yes", "on":
		c.enabled = true
	}
	if v, ok := params["ipa-lldp-timeout"]; ok {
		secs, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || secs < 0 || math.IsNaN(secs) || math.IsInf(secs, 0) || secs > math.MaxInt64/float64(time.Second) {
			log.Warn("invalid ipa-lldp-timeout, using the default", "value", v, "default", defaultLLDPTimeout)
		} else {
			c.timeout = time.Duration(secs * float64(time.Second))
		}
	}
	return c
}

// parseLLDPFrame returns IPA's pairs for an Ethernet frame carrying an
// LLDPDU: the Ethernet header is skipped and every TLV after it is
// reported. A frame shorter than the header gives an empty list.
func parseLLDPFrame(frame []byte) []sdk.LLDPTLV {
	if len(frame) < ethHeaderLen {
		return []sdk.LLDPTLV{}
	}
	return parseLLDPTLVs(frame[ethHeaderLen:])
}

// parseLLDPTLVs splits an LLDPDU into IPA's pairs, as IPA's _parse_tlv
// does: each TLV's 7-bit type and its value in lower-case hex, in frame
// order, while at least a 2-byte header remains. Like IPA it does not stop
// at the End of LLDPDU TLV, which is reported as [0, ""], so that any
// zero padding after it gives further [0, ""] pairs; a value longer than
// the data left is cut short, and a single trailing byte is ignored.
func parseLLDPTLVs(b []byte) []sdk.LLDPTLV {
	out := []sdk.LLDPTLV{}
	for len(b) >= 2 {
		hdr := binary.BigEndian.Uint16(b)
		typ, n := int(hdr>>9), int(hdr&0x1ff)
		b = b[2:]
		n = min(n, len(b))
		out = append(out, sdk.LLDPTLV{Type: typ, Value: hex.EncodeToString(b[:n])})
		b = b[n:]
	}
	return out
}

// lldpCollector returns, for each named interface, the pairs of the first
// LLDP frame received on it within wait: an empty list when none arrived,
// nil when the interface could not be listened on. Interfaces missing from
// the result are reported as null.
type lldpCollector func(ctx context.Context, names []string, wait time.Duration, log hclog.Logger) map[string][]sdk.LLDPTLV

// collectLLDP is the live lldpCollector. It listens on the interfaces that
// are up, each with a raw AF_PACKET socket bound to the LLDP Ethernet type
// and in promiscuous mode (as IPA), all at once, and keeps the first frame
// each receives that the machine did not send itself. The sockets are
// opened in the calling goroutine, so in its thread's network namespace,
// before any waiting starts; interfaces that are down are left out.
func collectLLDP(ctx context.Context, names []string, wait time.Duration, log hclog.Logger) map[string][]sdk.LLDPTLV {
	out := make(map[string][]sdk.LLDPTLV, len(names))
	type listener struct {
		name string
		ifi  *net.Interface
		conn *packet.Conn
	}
	var ls []listener
	for _, name := range names {
		ifi, err := net.InterfaceByName(name)
		if err != nil {
			log.Debug("LLDP: no such interface", "interface", name, "error", err)
			out[name] = nil
			continue
		}
		if ifi.Flags&net.FlagUp == 0 {
			continue
		}
		conn, err := packet.Listen(ifi, packet.Raw, lldpEtherType, nil)
		if err != nil {
			log.Debug("LLDP: cannot listen", "interface", name, "error", err)
			out[name] = nil
			continue
		}
		if err := conn.SetPromiscuous(true); err != nil {
			log.Debug("LLDP: cannot enter promiscuous mode", "interface", name, "error", err)
		}
		ls = append(ls, listener{name, ifi, conn})
	}
	if len(ls) == 0 {
		return out
	}

	log.Info("waiting for LLDP frames", "interfaces", len(ls), "timeout", wait)
	deadline := time.Now().Add(wait)
	results := make([][]sdk.LLDPTLV, len(ls))
	var wg sync.WaitGroup
	for i, l := range ls {
		wg.Go(func() {
			defer l.conn.Close()
			tlvs, err := receiveLLDP(ctx, l.conn, l.ifi.HardwareAddr, deadline)
			if err != nil {
				log.Debug("LLDP: receive failed", "interface", l.name, "error", err)
				return
			}
			if len(tlvs) == 0 {
				log.Debug("LLDP: no frame before the timeout", "interface", l.name)
			} else {
				log.Debug("LLDP: frame received", "interface", l.name, "tlvs", len(tlvs))
			}
			results[i] = tlvs
		})
	}
	wg.Wait()
	for i, l := range ls {
		out[l.name] = results[i]
	}
	return out
}

// receiveLLDP waits until deadline, or until ctx ends, for an LLDP frame on
// conn whose source is not own, and returns its pairs; without a frame it
// returns an empty list.
func receiveLLDP(ctx context.Context, conn *packet.Conn, own net.HardwareAddr, deadline time.Time) ([]sdk.LLDPTLV, error) {
	if err := conn.SetReadDeadline(deadline); err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Now()) })
	defer stop()
	buf := make([]byte, lldpReadSize)
	for {
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				if ctx.Err() != nil {
					return nil, fmt.Errorf("lldp: %w", ctx.Err())
				}
				return []sdk.LLDPTLV{}, nil
			}
			return nil, err
		}
		// An AF_PACKET socket also sees the frames the machine sends, as
		// from an LLDP daemon of its own: those do not describe the peer.
		if n >= ethHeaderLen && len(own) == 6 && net.HardwareAddr(buf[6:12]).String() == own.String() {
			continue
		}
		return parseLLDPFrame(buf[:n]), nil
	}
}

// lldpWait is how long to listen: the configured timeout, kept a little
// under ctx's deadline (a tenth of the time left, at most maxLLDPMargin).
func lldpWait(ctx context.Context, timeout time.Duration) time.Duration {
	dl, ok := ctx.Deadline()
	if !ok {
		return timeout
	}
	left := time.Until(dl)
	return max(0, min(timeout, left-min(left/10, maxLLDPMargin)))
}

// lldpCache holds the LLDP data collected once for the process, as IPA
// keeps its lldp_data: the inventory may be asked for several times, and
// each collection takes up to the timeout. At most one collection runs at
// a time: an inventory that asks while one is under way waits for it and
// gets its result, rather than listening again. The collection runs on a
// context of its own, not on the caller's: it goes on while any caller
// still waits for it, and is cancelled, and its partial result dropped,
// once the last one has stopped waiting. Safe for concurrent use; the zero
// value is ready.
type lldpCache struct {
	mu   sync.Mutex
	done bool
	data map[string][]sdk.LLDPTLV
	// run is the collection under way, or nil.
	run *lldpRun
}

// lldpRun is one collection and the callers waiting for it.
type lldpRun struct {
	// finished is closed when the collection has returned; data is set
	// before.
	finished chan struct{}
	data     map[string][]sdk.LLDPTLV
	// waiters counts the callers still waiting (guarded by lldpCache.mu);
	// cancel ends the collection when none is left.
	waiters int
	cancel  context.CancelFunc
}

// get returns the kept data; else it waits for the collection under way,
// or starts one with collect on names, listening for timeout (kept under
// ctx's deadline, see lldpWait). A caller that cannot wait any longer
// (ctx ends, or its deadline is too near for the collection's end) gets
// nil, as if no interface could be listened on. A collection cut short
// because no caller was left is not kept.
func (c *lldpCache) get(ctx context.Context, collect lldpCollector, names []string, timeout time.Duration, log hclog.Logger) map[string][]sdk.LLDPTLV {
	c.mu.Lock()
	if c.done {
		defer c.mu.Unlock()
		return c.data
	}
	r, joined := c.run, c.run != nil
	if !joined {
		r = c.start(ctx, collect, names, lldpWait(ctx, timeout), log)
	}
	r.waiters++
	c.mu.Unlock()

	// A caller that started the collection chose its length to fit its
	// own deadline. One that joined it may have less time: it waits until
	// its deadline less the margin lldpWait keeps.
	if joined {
		log.Debug("LLDP collection under way; waiting for its result")
	}
	var expired <-chan time.Time
	if _, ok := ctx.Deadline(); ok && joined {
		t := time.NewTimer(lldpWait(ctx, math.MaxInt64))
		defer t.Stop()
		expired = t.C
	}
	select {
	case <-r.finished:
		return r.data
	case <-ctx.Done():
	case <-expired:
		log.Warn("LLDP collection still under way at this call's deadline; lldp left null")
	}
	c.leave(r)
	return nil
}

// start starts a collection on a context that is not ctx's but carries its
// values; c.mu is held.
func (c *lldpCache) start(ctx context.Context, collect lldpCollector, names []string, wait time.Duration, log hclog.Logger) *lldpRun {
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r := &lldpRun{finished: make(chan struct{}), cancel: cancel}
	c.run = r
	go func() {
		defer close(r.finished)
		defer cancel()
		data := collect(rctx, names, wait, log)
		c.mu.Lock()
		defer c.mu.Unlock()
		r.data = data
		if c.run == r {
			c.run = nil
		}
		if rctx.Err() == nil {
			c.data, c.done = data, true
		}
	}()
	return r
}

// leave records that a caller stopped waiting for r, and cancels r when
// it was the last; a later caller then starts a collection of its own.
func (c *lldpCache) leave(r *lldpRun) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r.waiters--
	if r.waiters > 0 {
		return
	}
	if c.run == r {
		c.run = nil
	}
	r.cancel()
}

// startLLDP starts collecting LLDP for ifcs when the configuration asks for
// it and the system can (s.lldp is set). The returned function waits for
// the data and sets each interface's lldp; interfaces without data keep
// null. Without collection it does nothing.
func (m *Manager) startLLDP(ctx context.Context, cfg lldpConfig, ifcs []sdk.NetworkInterface) (finish func()) {
	if !cfg.enabled || m.sys.lldp == nil || len(ifcs) == 0 {
		return func() {}
	}
	names := make([]string, len(ifcs))
	for i, ifc := range ifcs {
		names[i] = ifc.Name
	}
	ch := make(chan map[string][]sdk.LLDPTLV, 1)
	go func() { ch <- m.lldp.get(ctx, m.sys.lldp, names, cfg.timeout, m.log) }()
	return func() {
		data := <-ch
		for i := range ifcs {
			// A copy: the kept data is shared by every inventory.
			ifcs[i].LLDP = slices.Clone(data[ifcs[i].Name])
		}
	}
}
