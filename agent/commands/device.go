package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/metalagent/metalagent/agent/ipa"
	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// minRootDiskSize is IPA's smallest default root disk: 4 GiB.
const minRootDiskSize = 4 << 30

// installDevice returns the device an image goes to: a manager that
// implements get_os_install_device decides; otherwise the node's root
// device hints pick from the inventory's disks, or the smallest disk of at
// least 4 GiB, as IPA's generic manager does.
func installDevice(ctx context.Context, d *Deps, node json.RawMessage) (string, error) {
	res, err := d.Host.Dispatch(ctx, sdk.ExecuteRequest{Method: "get_os_install_device", Node: node, Args: json.RawMessage("{}")})
	if err == nil {
		var dev string
		if err := json.Unmarshal(res, &dev); err != nil || dev == "" {
			return "", fmt.Errorf("get_os_install_device answered %s, not a device path", res)
		}
		return dev, nil
	}
	var ierr *ipa.Error
	if !errors.As(err, &ierr) || ierr.Type != "HardwareManagerMethodNotFound" {
		return "", err
	}
	inv, err := d.Host.Inventory(ctx)
	if err != nil {
		return "", fmt.Errorf("inventory for root device selection: %w", err)
	}
	disks, _ := inv["disks"].([]any)
	return chooseDisk(disks, rootDeviceHints(node))
}

// rootDeviceHints returns instance_info.root_device, else
// properties.root_device, of a node.
func rootDeviceHints(node json.RawMessage) map[string]any {
	var n struct {
		InstanceInfo map[string]any `json:"instance_info"`
		Properties   map[string]any `json:"properties"`
	}
	if len(node) == 0 || json.Unmarshal(node, &n) != nil {
		return nil
	}
	if h, ok := n.InstanceInfo["root_device"].(map[string]any); ok && len(h) > 0 {
		return h
	}
	if h, ok := n.Properties["root_device"].(map[string]any); ok && len(h) > 0 {
		return h
	}
	return nil
}

// chooseDisk applies root device hints to disks in inventory order (every
// hint must match; the first match wins) or, without hints, takes the
// smallest disk of at least 4 GiB.
func chooseDisk(disks []any, hints map[string]any) (string, error) {
	type disk struct {
		name string
		size float64
		m    map[string]any
	}
	var list []disk
	for _, d := range disks {
		m, ok := d.(map[string]any)
		if !ok {
			continue
		}
		name, _ := m["name"].(string)
		size, _ := m["size"].(float64)
		list = append(list, disk{name, size, m})
	}
	if len(hints) > 0 {
		for _, d := range list {
			if matchHints(d.m, hints) {
				return d.name, nil
			}
		}
		return "", ipa.New("DeviceNotFound", "No suitable device was found for deployment using these hints %v", hints)
	}
	sort.SliceStable(list, func(i, j int) bool {
		if list[i].size != list[j].size {
			return list[i].size < list[j].size
		}
		return list[i].name < list[j].name
	})
	for _, d := range list {
		if d.size >= minRootDiskSize {
			return d.name, nil
		}
	}
	return "", ipa.New("DeviceNotFound", "No suitable device was found for deployment - root device hints were not provided and all found block devices are smaller than %d B", minRootDiskSize)
}

// matchHints reports whether a disk matches every hint. Strings compare
// equal (an "s== " prefix is accepted), size is in GiB, rotational is a
// boolean.
func matchHints(disk, hints map[string]any) bool {
	for k, want := range hints {
		got := disk[k]
		switch k {
		case "name":
			w := fmt.Sprint(want)
			if !strings.HasPrefix(w, "/dev/") {
				w = "/dev/" + w
			}
			if got != w {
				return false
			}
		case "size":
			size, _ := got.(float64)
			w, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimPrefix(fmt.Sprint(want), "==")), 64)
			if err != nil || float64(int64(size)>>30) != w {
				return false
			}
		case "rotational":
			w, err := strconv.ParseBool(fmt.Sprint(want))
			if err != nil || got != w {
				return false
			}
		default:
			w := strings.TrimSpace(strings.TrimPrefix(fmt.Sprint(want), "s=="))
			if got == nil || fmt.Sprint(got) != w {
				return false
			}
		}
	}
	return true
}
