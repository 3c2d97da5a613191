package generic

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// heldCollector is a fake lldpCollector that holds each collection until
// the test releases it or the collection's context ends, as the live one
// waits for frames.
type heldCollector struct {
	calls atomic.Int32
	// started receives the context of each collection as it starts.
	started chan context.Context
	release chan struct{}
}

func newHeldCollector() *heldCollector {
	return &heldCollector{started: make(chan context.Context, 8), release: make(chan struct{})}
}

// heldTLVs is what a released collection reports for eth0.
var heldTLVs = switchTLVs[:2]

func (c *heldCollector) collect(ctx context.Context, names []string, wait time.Duration, log hclog.Logger) map[string][]sdk.LLDPTLV {
	c.calls.Add(1)
	c.started <- ctx
	select {
	case <-c.release:
		return map[string][]sdk.LLDPTLV{"eth0": heldTLVs}
	case <-ctx.Done():
		return map[string][]sdk.LLDPTLV{"eth0": nil}
	}
}

// lldpManager is a manager on the vm fixture with ipa-collect-lldp on and
// c as its collector.
func lldpManager(t *testing.T, c *heldCollector) *Manager {
	t.Helper()
	s := fixtureSystem(loadFixture(t, "vm"), "vm", nil)
	s.lldp = c.collect
	m := newManager(s, testLogger(t))
	if _, err := m.EvaluateHardwareSupport(context.Background(), sdk.HostConfig{KernelParams: map[string]string{"ipa-collect-lldp": "1"}}); err != nil {
		t.Fatal(err)
	}
	return m
}

// inventoryResult is the outcome of an Inventory run in a goroutine.
type inventoryResult struct {
	inv *sdk.Inventory
	err error
}

// goInventory runs m.Inventory(ctx) in a goroutine.
func goInventory(m *Manager, ctx context.Context) <-chan inventoryResult {
	ch := make(chan inventoryResult, 1)
	go func() {
		inv, err := m.Inventory(ctx)
		ch <- inventoryResult{inv, err}
	}()
	return ch
}

// waitWaiters waits until n callers wait for the collection under way.
func waitWaiters(t *testing.T, m *Manager, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		m.lldp.mu.Lock()
		got := 0
		if m.lldp.run != nil {
			got = m.lldp.run.waiters
		}
		m.lldp.mu.Unlock()
		if got == n {
			return
		}
	}
	t.Fatalf("%d callers never waited for the LLDP collection", n)
}

// receive returns the result from ch, failing the test after 5 s.
func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: nothing after 5s", what)
		var zero T
		return zero
	}
}

// eth0LLDP returns eth0's lldp of a successful inventory.
func eth0LLDP(t *testing.T, r inventoryResult) []sdk.LLDPTLV {
	t.Helper()
	if r.err != nil {
		t.Fatalf("Inventory: %v", r.err)
	}
	for _, ifc := range r.inv.Interfaces {
		if ifc.Name == "eth0" {
			return ifc.LLDP
		}
	}
	t.Fatal("no eth0 in the inventory")
	return nil
}

// TestLLDPSharedCollection checks that inventories asked for while an LLDP
// collection is under way wait for it and share its result, and what
// happens when callers stop waiting.
func TestLLDPSharedCollection(t *testing.T) {
	t.Run("second call joins the first", func(t *testing.T) {
		c := newHeldCollector()
		m := lldpManager(t, c)
		first := goInventory(m, context.Background())
		receive(t, c.started, "first collection")
		second := goInventory(m, context.Background())
		waitWaiters(t, m, 2)
		select {
		case <-second:
			t.Fatal("second inventory returned while the collection was held")
		case <-time.After(50 * time.Millisecond):
		}
		close(c.release)
		for _, ch := range []<-chan inventoryResult{first, second} {
			if diff := cmp.Diff(heldTLVs, eth0LLDP(t, receive(t, ch, "inventory"))); diff != "" {
				t.Errorf("lldp (-want +got):\n%s", diff)
			}
		}
		// Kept: a third inventory does not collect again.
		if diff := cmp.Diff(heldTLVs, eth0LLDP(t, receive(t, goInventory(m, context.Background()), "third inventory"))); diff != "" {
			t.Errorf("third lldp (-want +got):\n%s", diff)
		}
		if n := c.calls.Load(); n != 1 {
			t.Errorf("collector ran %d times for 3 inventories, want 1", n)
		}
	})

	t.Run("first caller gives up, the collection goes on for the second", func(t *testing.T) {
		c := newHeldCollector()
		m := lldpManager(t, c)
		ctx, cancel := context.WithCancel(context.Background())
		first := goInventory(m, ctx)
		collection := receive(t, c.started, "first collection")
		second := goInventory(m, context.Background())
		waitWaiters(t, m, 2)
		cancel()
		if r := receive(t, first, "first inventory"); !errors.Is(r.err, context.Canceled) {
			t.Errorf("first inventory after cancel: %v, want context.Canceled", r.err)
		}
		waitWaiters(t, m, 1)
		if err := collection.Err(); err != nil {
			t.Fatalf("collection ended with its first caller: %v", err)
		}
		close(c.release)
		if diff := cmp.Diff(heldTLVs, eth0LLDP(t, receive(t, second, "second inventory"))); diff != "" {
			t.Errorf("lldp (-want +got):\n%s", diff)
		}
		if n := c.calls.Load(); n != 1 {
			t.Errorf("collector ran %d times, want 1", n)
		}
	})

	t.Run("last caller gives up: collection cancelled, not kept", func(t *testing.T) {
		c := newHeldCollector()
		m := lldpManager(t, c)
		ctx, cancel := context.WithCancel(context.Background())
		first := goInventory(m, ctx)
		collection := receive(t, c.started, "first collection")
		cancel()
		if r := receive(t, first, "first inventory"); !errors.Is(r.err, context.Canceled) {
			t.Errorf("inventory after cancel: %v, want context.Canceled", r.err)
		}
		receive(t, collection.Done(), "cancellation of the collection")
		// The next inventory collects again, and gets the new data.
		next := goInventory(m, context.Background())
		receive(t, c.started, "second collection")
		close(c.release)
		if diff := cmp.Diff(heldTLVs, eth0LLDP(t, receive(t, next, "next inventory"))); diff != "" {
			t.Errorf("lldp (-want +got):\n%s", diff)
		}
		if n := c.calls.Load(); n != 2 {
			t.Errorf("collector ran %d times, want 2", n)
		}
	})

	t.Run("a joining call with less time returns without lldp", func(t *testing.T) {
		c := newHeldCollector()
		m := lldpManager(t, c)
		first := goInventory(m, context.Background())
		receive(t, c.started, "first collection")
		// Success means the call returned before its deadline: Inventory
		// fails once its context has ended.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		r := receive(t, goInventory(m, ctx), "short inventory")
		if got := eth0LLDP(t, r); got != nil {
			t.Errorf("lldp of the call that could not wait: %v, want null", got)
		}
		waitWaiters(t, m, 1)
		close(c.release)
		if diff := cmp.Diff(heldTLVs, eth0LLDP(t, receive(t, first, "first inventory"))); diff != "" {
			t.Errorf("lldp (-want +got):\n%s", diff)
		}
		if n := c.calls.Load(); n != 1 {
			t.Errorf("collector ran %d times, want 1", n)
		}
	})
}
