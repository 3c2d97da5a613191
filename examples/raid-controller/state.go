package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// state is the simulated controller: its physical disks and the logical
// disks made of them, as stored in the state file.
type state struct {
	// Controller names the controller, as Ironic's "controller" field of
	// a logical disk does. Default: defaultController.
	Controller    string         `json:"controller,omitempty"`
	PhysicalDisks []physicalDisk `json:"physical_disks"`
	LogicalDisks  []logicalDisk  `json:"logical_disks"`
}

// defaultController is the controller's name when the file gives none.
const defaultController = "Simulated RAID controller"

// physicalDisk is a disk behind the controller; the operating system
// does not see it.
type physicalDisk struct {
	ID     string `json:"id"`
	SizeGB int    `json:"size_gb"`
}

// logicalDisk is a volume the controller presents to the operating
// system.
type logicalDisk struct {
	// Name is the block device it appears as: /dev/sdr0, /dev/sdr1, ...
	Name          string   `json:"name"`
	VolumeName    string   `json:"volume_name"`
	RAIDLevel     string   `json:"raid_level"`
	SizeGB        int      `json:"size_gb"`
	PhysicalDisks []string `json:"physical_disks"`
	IsRootVolume  bool     `json:"is_root_volume,omitempty"`
	// PerDiskGB is the space the volume takes on each of its physical
	// disks.
	PerDiskGB int `json:"per_disk_gb"`
}

// errNoController means the state file does not exist: there is no
// controller on this machine.
var errNoController = errors.New("no RAID controller state file")

// loadState reads and checks the state file.
func loadState(path string) (*state, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w at %s", errNoController, path)
	}
	if err != nil {
		return nil, fmt.Errorf("read controller state: %w", err)
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("controller state %s: %w", path, err)
	}
	if st.Controller == "" {
		st.Controller = defaultController
	}
	seen := map[string]bool{}
	for _, pd := range st.PhysicalDisks {
		if pd.ID == "" || pd.SizeGB <= 0 || seen[pd.ID] {
			return nil, fmt.Errorf("controller state %s: physical disk %+v: ids must be unique and sizes positive", path, pd)
		}
		seen[pd.ID] = true
	}
	for _, ld := range st.LogicalDisks {
		for _, id := range ld.PhysicalDisks {
			if !seen[id] {
				return nil, fmt.Errorf("controller state %s: logical disk %s uses unknown physical disk %q", path, ld.Name, id)
			}
		}
	}
	return &st, nil
}

// save writes the state file atomically (a temporary file renamed over
// it).
func (st *state) save(path string) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".state-*.json")
	if err != nil {
		return fmt.Errorf("save controller state: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("save controller state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save controller state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save controller state: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save controller state: %w", err)
	}
	return nil
}

// clone returns a deep copy, so a plan can fail without changing st.
func (st *state) clone() *state {
	c := *st
	c.PhysicalDisks = append([]physicalDisk(nil), st.PhysicalDisks...)
	c.LogicalDisks = make([]logicalDisk, len(st.LogicalDisks))
	for i, ld := range st.LogicalDisks {
		ld.PhysicalDisks = append([]string(nil), ld.PhysicalDisks...)
		c.LogicalDisks[i] = ld
	}
	return &c
}

// free returns the unused space of each physical disk, in GB.
func (st *state) free() map[string]int {
	out := map[string]int{}
	for _, pd := range st.PhysicalDisks {
		out[pd.ID] = pd.SizeGB
	}
	for _, ld := range st.LogicalDisks {
		for _, id := range ld.PhysicalDisks {
			out[id] -= ld.PerDiskGB
		}
	}
	return out
}
