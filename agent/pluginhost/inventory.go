package pluginhost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
)

// listKeys are the inventory components whose entries are merged by name.
var listKeys = map[string]bool{"disks": true, "interfaces": true}

// Inventory asks every manager in service for its inventory and merges the
// answers into IPA's inventory object: per component the highest manager
// that provides it wins; disks and interfaces are merged entry by entry by
// name, field by field, the higher manager winning. Plugins out of service
// are skipped with a warning.
func (h *Host) Inventory(ctx context.Context) (map[string]any, error) {
	inv, _, err := h.InventoryWithProvenance(ctx)
	return inv, err
}

// InventoryWithProvenance is Inventory, also telling which manager
// supplied each component and each disk and interface field.
func (h *Host) InventoryWithProvenance(ctx context.Context) (map[string]any, *Provenance, error) {
	names := make([]string, 0, len(h.managers))
	parts := make([]map[string]any, 0, len(h.managers))
	for _, m := range h.managers {
		raw, err := h.inventoryJSON(ctx, m)
		if errors.Is(err, errOutOfService) {
			h.log.Warn("plugin out of service; its inventory is left out", "plugin", m.Name, "reason", err)
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		var part map[string]any
		if len(raw) > 0 {
			if err := json.Unmarshal(raw, &part); err != nil {
				return nil, nil, fmt.Errorf("%s: decode inventory: %w", m.Name, err)
			}
		}
		names = append(names, m.Name)
		parts = append(parts, part)
	}
	inv, prov := MergeInventoriesFrom(names, parts)
	// IPA always reports these lists, empty when nothing was found.
	for k := range listKeys {
		if _, ok := inv[k]; !ok {
			inv[k] = []any{}
		}
	}
	return inv, prov, nil
}

// Provenance records which manager supplied each part of a merged
// inventory.
type Provenance struct {
	// Components maps each top-level component other than disks and
	// interfaces to the manager that supplied it.
	Components map[string]string `json:"components"`
	// Fields maps "disks" and "interfaces" to entry name to field to the
	// manager that supplied the field's value.
	Fields map[string]map[string]map[string]string `json:"fields"`
}

// Contribution is what one manager supplied to a merged inventory.
type Contribution struct {
	// Components are the top-level components it supplied.
	Components []string `json:"components"`
	// Disks and Interfaces map an entry's name to the fields it supplied.
	Disks      map[string][]string `json:"disks,omitempty"`
	Interfaces map[string][]string `json:"interfaces,omitempty"`
}

// ByManager regroups the provenance per manager, names sorted.
func (p *Provenance) ByManager() map[string]*Contribution {
	out := map[string]*Contribution{}
	get := func(name string) *Contribution {
		c, ok := out[name]
		if !ok {
			c = &Contribution{Components: []string{}}
			out[name] = c
		}
		return c
	}
	for comp, name := range p.Components {
		c := get(name)
		c.Components = append(c.Components, comp)
	}
	for list, entries := range p.Fields {
		for entry, fields := range entries {
			for field, name := range fields {
				c := get(name)
				target := &c.Disks
				if list == "interfaces" {
					target = &c.Interfaces
				}
				if *target == nil {
					*target = map[string][]string{}
				}
				(*target)[entry] = append((*target)[entry], field)
			}
		}
	}
	for _, c := range out {
		sort.Strings(c.Components)
		for _, m := range []map[string][]string{c.Disks, c.Interfaces} {
			for _, f := range m {
				sort.Strings(f)
			}
		}
	}
	return out
}

// MergeInventories merges inventory parts given highest priority first.
func MergeInventories(parts ...map[string]any) map[string]any {
	inv, _ := MergeInventoriesFrom(make([]string, len(parts)), parts)
	return inv
}

// MergeInventoriesFrom merges inventory parts given highest priority first,
// names[i] being the manager of parts[i], and records who supplied what.
func MergeInventoriesFrom(names []string, parts []map[string]any) (map[string]any, *Provenance) {
	out := map[string]any{}
	prov := &Provenance{Components: map[string]string{}, Fields: map[string]map[string]map[string]string{}}
	for i, part := range parts {
		for k, v := range part {
			cur, ok := out[k]
			switch {
			case !listKeys[k] && !ok:
				out[k] = v
				prov.Components[k] = names[i]
			case !listKeys[k]:
			case !ok:
				out[k] = mergeByName([]any{}, v, names[i], prov.fields(k))
			default:
				out[k] = mergeByName(cur, v, names[i], prov.fields(k))
			}
		}
	}
	return out, prov
}

func (p *Provenance) fields(list string) map[string]map[string]string {
	f, ok := p.Fields[list]
	if !ok {
		f = map[string]map[string]string{}
		p.Fields[list] = f
	}
	return f
}

// mergeByName merges the list lower (from manager name) into higher:
// entries with the same "name" get the fields they lack or have null, new
// names are appended. prov records, per entry name, who supplied each
// field.
func mergeByName(higher, lower any, name string, prov map[string]map[string]string) any {
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
		if prov[n] == nil {
			prov[n] = map[string]string{}
		}
		if h, ok := index[n]; ok {
			for k, v := range m {
				if hv, present := h[k]; !present || (hv == nil && v != nil) {
					h[k] = v
					prov[n][k] = name
				}
			}
			continue
		}
		for k := range m {
			prov[n][k] = name
		}
		hl = append(hl, m)
	}
	return hl
}
