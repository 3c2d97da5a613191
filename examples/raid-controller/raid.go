package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// levels are the RAID levels the controller supports, with the fewest
// physical disks each needs (Ironic's RAID_LEVEL_MIN_DISKS).
var levels = map[string]int{"0": 1, "1": 2, "5": 3, "6": 4, "1+0": 4}

// dataDisks returns how many of n physical disks' worth of space a volume
// of the level offers.
func dataDisks(level string, n int) int {
	switch level {
	case "0":
		return n
	case "1":
		return 1
	case "5":
		return n - 1
	case "6":
		return n - 2
	case "1+0":
		return n / 2
	}
	return 0
}

// logicalDiskKeys are the keys of a logical disk in Ironic's RAID
// configuration schema. disk_type, interface_type and share_physical_disks
// are accepted and ignored: the simulated disks have no type, and volumes
// always share physical disks when there is room.
var logicalDiskKeys = []string{
	"size_gb", "raid_level", "volume_name", "is_root_volume", "share_physical_disks",
	"disk_type", "interface_type", "number_of_physical_disks", "controller", "physical_disks",
}

// target is one requested logical disk.
type target struct {
	sizeGB     int // 0 with max
	max        bool
	level      string
	volumeName string
	root       bool
	disks      []string
	count      int
	controller string
}

// parseRAIDConfig parses a RAID configuration ({"logical_disks": [...]},
// Ironic's target_raid_config and raid_config). An empty or null
// configuration gives no targets. Errors are invalid arguments.
func parseRAIDConfig(raw json.RawMessage) ([]target, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" || string(raw) == "{}" {
		return nil, nil
	}
	var cfg struct {
		LogicalDisks []map[string]json.RawMessage `json:"logical_disks"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, sdk.InvalidArgument("RAID configuration: %v", err)
	}
	if len(cfg.LogicalDisks) == 0 {
		return nil, sdk.InvalidArgument("RAID configuration: logical_disks must be a non-empty list")
	}
	out := make([]target, 0, len(cfg.LogicalDisks))
	for i, ld := range cfg.LogicalDisks {
		t, err := parseTarget(ld)
		if err != nil {
			return nil, sdk.InvalidArgument("RAID configuration: logical disk %d: %v", i, err)
		}
		out = append(out, t)
	}
	return out, nil
}

func parseTarget(ld map[string]json.RawMessage) (target, error) {
	var t target
	for k := range ld {
		if !slices.Contains(logicalDiskKeys, k) {
			return t, fmt.Errorf("unknown property %q", k)
		}
	}
	size, ok := ld["size_gb"]
	if !ok {
		return t, fmt.Errorf("size_gb is required")
	}
	var s string
	if json.Unmarshal(size, &s) == nil {
		if s != "MAX" {
			return t, fmt.Errorf("size_gb %q is neither an integer nor \"MAX\"", s)
		}
		t.max = true
	} else if err := json.Unmarshal(size, &t.sizeGB); err != nil || t.sizeGB <= 0 {
		return t, fmt.Errorf("size_gb %s is neither a positive integer nor \"MAX\"", size)
	}
	if err := json.Unmarshal(ld["raid_level"], &t.level); err != nil || t.level == "" {
		return t, fmt.Errorf("raid_level is required and must be a string")
	}
	if _, ok := levels[t.level]; !ok {
		return t, fmt.Errorf("raid_level %q is not supported by the controller (supported: 0, 1, 5, 6, 1+0)", t.level)
	}
	for key, dst := range map[string]any{
		"volume_name": &t.volumeName, "is_root_volume": &t.root, "physical_disks": &t.disks,
		"number_of_physical_disks": &t.count, "controller": &t.controller,
	} {
		if v, ok := ld[key]; ok && string(v) != "null" {
			if err := json.Unmarshal(v, dst); err != nil {
				return t, fmt.Errorf("%s: %v", key, err)
			}
		}
	}
	if t.count < 0 || len(t.disks) > 0 && t.count > 0 && t.count != len(t.disks) {
		return t, fmt.Errorf("number_of_physical_disks %d does not match physical_disks %v", t.count, t.disks)
	}
	return t, nil
}

// ours splits the targets into the controller's and reports whether any
// name another controller ("software" is the generic manager's software
// RAID). A configuration entirely for other controllers is not this
// manager's to apply; a mix is refused.
func ours(targets []target, controller string) (bool, error) {
	mine, others := 0, 0
	for _, t := range targets {
		if t.controller == "" || t.controller == controller {
			mine++
		} else {
			others++
		}
	}
	if mine > 0 && others > 0 {
		return false, sdk.InvalidArgument("RAID configuration mixes logical disks of %q with logical disks of other controllers", controller)
	}
	return mine > 0, nil
}

// plan adds the target volumes to st (a copy the caller may discard) and
// returns them, in the order asked. Fixed sizes are placed before "MAX"
// volumes, which take what is left. Every violation is an invalid
// argument and leaves the plan unusable.
func plan(st *state, targets []target) ([]logicalDisk, error) {
	root := ""
	for _, ld := range st.LogicalDisks {
		if ld.IsRootVolume {
			root = ld.Name
		}
	}
	names := map[string]bool{}
	volumes := map[string]bool{}
	for _, ld := range st.LogicalDisks {
		names[ld.Name] = true
		volumes[ld.VolumeName] = true
	}
	for _, t := range targets {
		if !t.root {
			continue
		}
		if root != "" {
			return nil, sdk.InvalidArgument("more than one root volume: %s is already one", root)
		}
		root = "another requested volume"
	}
	known := map[string]bool{}
	for _, pd := range st.PhysicalDisks {
		known[pd.ID] = true
	}

	out := make([]logicalDisk, len(targets))
	order := make([]int, 0, len(targets))
	for i, t := range targets {
		if !t.max {
			order = append(order, i)
		}
	}
	for i, t := range targets {
		if t.max {
			order = append(order, i)
		}
	}
	for _, i := range order {
		t := targets[i]
		ld, err := place(st, t, known)
		if err != nil {
			return nil, sdk.InvalidArgument("logical disk %d (RAID %s, %s GB): %v", i, t.level, sizeText(t), err)
		}
		out[i] = ld
		st.LogicalDisks = append(st.LogicalDisks, ld) // its space is taken
	}
	// Names in the order asked.
	st.LogicalDisks = st.LogicalDisks[:len(st.LogicalDisks)-len(targets)]
	next := 0
	for i := range out {
		for names[fmt.Sprintf("/dev/sdr%d", next)] {
			next++
		}
		out[i].Name = fmt.Sprintf("/dev/sdr%d", next)
		names[out[i].Name] = true
		if out[i].VolumeName == "" {
			out[i].VolumeName = strings.TrimPrefix(out[i].Name, "/dev/")
		}
		if volumes[out[i].VolumeName] {
			return nil, sdk.InvalidArgument("volume_name %q is used twice", out[i].VolumeName)
		}
		volumes[out[i].VolumeName] = true
	}
	st.LogicalDisks = append(st.LogicalDisks, out...)
	return out, nil
}

func sizeText(t target) string {
	if t.max {
		return "MAX"
	}
	return fmt.Sprint(t.sizeGB)
}

// place chooses the physical disks of one volume and its size.
func place(st *state, t target, known map[string]bool) (logicalDisk, error) {
	free := st.free()
	n := len(t.disks)
	if n == 0 {
		n = t.count
	}
	if n == 0 {
		n = levels[t.level]
	}
	if least := levels[t.level]; n < least {
		return logicalDisk{}, fmt.Errorf("RAID %s needs at least %d physical disks, got %d", t.level, least, n)
	}
	if t.level == "1+0" && n%2 != 0 {
		return logicalDisk{}, fmt.Errorf("RAID 1+0 needs an even number of physical disks, got %d", n)
	}
	data := dataDisks(t.level, n)
	share := 0
	if !t.max {
		share = (t.sizeGB + data - 1) / data
	}
	var chosen []string
	if len(t.disks) > 0 {
		seen := map[string]bool{}
		for _, id := range t.disks {
			if !known[id] {
				return logicalDisk{}, fmt.Errorf("physical disk %q is not on the controller (it has %s)", id, strings.Join(ids(st), ", "))
			}
			if seen[id] {
				return logicalDisk{}, fmt.Errorf("physical disk %q is listed twice", id)
			}
			seen[id] = true
		}
		chosen = append(chosen, t.disks...)
	} else {
		if n > len(st.PhysicalDisks) {
			return logicalDisk{}, fmt.Errorf("needs %d physical disks, the controller has %d", n, len(st.PhysicalDisks))
		}
		// The disks with the most free space, ties by id.
		all := ids(st)
		sort.SliceStable(all, func(i, j int) bool { return free[all[i]] > free[all[j]] })
		chosen = all[:n]
	}
	if t.max {
		share = free[chosen[0]]
		for _, id := range chosen {
			share = min(share, free[id])
		}
		if share <= 0 {
			return logicalDisk{}, fmt.Errorf("no free space left on physical disks %v", chosen)
		}
	}
	for _, id := range chosen {
		if free[id] < share {
			return logicalDisk{}, fmt.Errorf("not enough space: needs %d GB on each of %v, physical disk %s has %d GB free",
				share, chosen, id, free[id])
		}
	}
	size := t.sizeGB
	if t.max {
		size = share * data
	}
	return logicalDisk{
		VolumeName: t.volumeName, RAIDLevel: t.level, SizeGB: size,
		PhysicalDisks: chosen, IsRootVolume: t.root, PerDiskGB: share,
	}, nil
}

// ids returns the physical disk ids in the state's order.
func ids(st *state) []string {
	out := make([]string, 0, len(st.PhysicalDisks))
	for _, pd := range st.PhysicalDisks {
		out = append(out, pd.ID)
	}
	return out
}
