package pluginhost

import (
	"context"
	"encoding/json"
	"fmt"
)

// listKeys are the inventory components whose entries are merged by name.
var listKeys = map[string]bool{"disks": true, "interfaces": true}

// Inventory asks every manager for its inventory and merges the answers
// into IPA's inventory object: per component the highest manager that
// provides it wins; disks and interfaces are merged entry by entry by name,
// field by field, the higher manager winning.
func (h *Host) Inventory(ctx context.Context) (map[string]any, error) {
	parts := make([]map[string]any, 0, len(h.managers))
	for _, m := range h.managers {
		cctx, cancel := h.callCtx(ctx)
		raw, err := h.inventoryJSON(cctx, m)
		cancel()
		if err != nil {
			return nil, h.pluginError(m, "inventory", err)
		}
		var part map[string]any
		if len(raw) > 0 {
			if err := json.Unmarshal(raw, &part); err != nil {
				return nil, fmt.Errorf("%s: decode inventory: %w", m.Name, err)
			}
		}
		parts = append(parts, part)
	}
	inv := MergeInventories(parts...)
	// IPA always reports these lists, empty when nothing was found.
	for k := range listKeys {
		if _, ok := inv[k]; !ok {
			inv[k] = []any{}
		}
	}
	return inv, nil
}

// MergeInventories merges inventory parts given highest priority first.
func MergeInventories(parts ...map[string]any) map[string]any {
	out := map[string]any{}
	for _, part := range parts {
		for k, v := range part {
			cur, ok := out[k]
			if !ok {
				out[k] = v
				continue
			}
			if listKeys[k] {
				out[k] = mergeByName(cur, v)
			}
		}
	}
	return out
}

// mergeByName merges the list lower into higher: entries with the same
// "name" get the fields they lack, new names are appended.
func mergeByName(higher, lower any) any {
	hl, ok1 := higher.([]any)
	ll, ok2 := lower.([]any)
	if !ok1 || !ok2 {
		return higher
	}
	index := map[string]map[string]any{}
	for _, e := range hl {
		if m, ok := e.(map[string]any); ok {
			if n, ok := m["name"].(string); ok {
				index[n] = m
			}
		}
	}
	for _, e := range ll {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		n, _ := m["name"].(string)
		if h, ok := index[n]; ok {
			for k, v := range m {
				if hv, present := h[k]; !present || hv == nil {
					h[k] = v
				}
			}
			continue
		}
		hl = append(hl, m)
	}
	return hl
}
