package generic

import (
	"context"
	"fmt"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// Inventory reports IPA's inventory of the machine. A component that
// cannot be read is logged and left out, so that another manager may
// supply it; the call fails only when ctx ends.
func (m *Manager) Inventory(ctx context.Context) (*sdk.Inventory, error) {
	cfg := m.config()
	inv := &sdk.Inventory{}
	// LLDP frames are awaited while the other components are read.
	finishLLDP := func() {}
	parts := []struct {
		name string
		fill func() error
	}{
		{"interfaces", func() (err error) {
			inv.Interfaces, err = m.sys.interfaces(m.log)
			finishLLDP = m.startLLDP(ctx, cfg.lldp, inv.Interfaces)
			return
		}},
		{"cpu", func() (err error) { inv.CPU, err = m.cache.cpu(m.sys); return }},
		{"disks", func() (err error) { inv.Disks, err = m.cache.disks(ctx, m.sys, cfg.allow); return }},
		{"memory", func() (err error) { inv.Memory, err = m.cache.memory(m.sys, m.log); return }},
		{"bmc", func() error {
			inv.BMCAddress, inv.BMCV6Address, inv.BMCMAC = m.sys.bmc(ctx, m.log)
			return nil
		}},
		{"system_vendor", func() (err error) { inv.SystemVendor, err = m.cache.systemVendor(m.sys, m.log); return }},
		{"boot", func() error { inv.Boot = m.cache.boot(m.sys, cfg.bootIF); return nil }},
		{"hostname", func() error {
			h, err := m.sys.hostname()
			if err != nil {
				return fmt.Errorf("hostname: %w", err)
			}
			inv.Hostname = &h
			return nil
		}},
	}
	for _, p := range parts {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("inventory: %w", err)
		}
		if err := p.fill(); err != nil {
			m.log.Warn("inventory component unavailable", "component", p.name, "error", err)
		}
	}
	finishLLDP()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	return inv, nil
}
