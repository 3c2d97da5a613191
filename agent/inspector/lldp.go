package inspector

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/metalagent/metalagent/agent/ipa"
	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// MethodCollectLLDPData is the hardware method the lldp collector
// dispatches, as newer IPA does: no arguments, the answer is
// {interface name: [[tlv type, "hex of the value"], ...]}.
const MethodCollectLLDPData = "collect_lldp_data"

// collectLLDP is newer IPA's lldp collector: raw LLDP TLVs per interface
// under "lldp_raw". The highest manager implementing collect_lldp_data
// answers; when none does, the TLVs the inventory carries
// (interfaces[].lldp, filled by managers when ipa-collect-lldp is set)
// are sent instead.
func collectLLDP(ctx context.Context, e *env) error {
	raw, err := e.o.Hardware.Dispatch(ctx, sdk.ExecuteRequest{Method: MethodCollectLLDPData, Args: json.RawMessage("{}")})
	if err == nil {
		var out map[string]any
		if err := json.Unmarshal(raw, &out); err != nil {
			return fmt.Errorf("%s answer: %w", MethodCollectLLDPData, err)
		}
		if out == nil {
			out = map[string]any{}
		}
		e.set("lldp_raw", out)
		return nil
	}
	if ipa.From(err, "").Type != "HardwareManagerMethodNotFound" {
		return fmt.Errorf("%s: %w", MethodCollectLLDPData, err)
	}
	inv, _ := e.data["inventory"].(map[string]any)
	if inv == nil {
		if inv, err = e.o.Hardware.Inventory(ctx); err != nil {
			return fmt.Errorf("inventory: %w", err)
		}
	}
	out := map[string]any{}
	ifs, _ := inv["interfaces"].([]any)
	for _, i := range ifs {
		m, _ := i.(map[string]any)
		name, _ := m["name"].(string)
		if tlvs, ok := m["lldp"].([]any); ok && name != "" {
			out[name] = tlvs
		}
	}
	if len(out) == 0 {
		e.log.Warn("no LLDP data: no manager implements collect_lldp_data and the inventory has none (set ipa-collect-lldp)")
	}
	e.set("lldp_raw", out)
	return nil
}
