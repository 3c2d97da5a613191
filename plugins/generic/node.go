package generic

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// node is the part of Ironic's node the erase steps read.
type node struct {
	UUID       string `json:"uuid"`
	Properties struct {
		// SkipBlockDevices are root-device-hint dicts (or
		// {"volume_name": ...} for RAID volumes) of disks never to erase.
		SkipBlockDevices []map[string]any `json:"skip_block_devices"`
	} `json:"properties"`
	DriverInternalInfo map[string]any `json:"driver_internal_info"`
}

// parseNode decodes the node Ironic sent; an empty message is an empty
// node.
func parseNode(raw json.RawMessage) (node, error) {
	var n node
	if len(raw) == 0 || string(raw) == "null" {
		return n, nil
	}
	if err := json.Unmarshal(raw, &n); err != nil {
		return node{}, sdk.InvalidArgument("decode node: %v", err)
	}
	return n, nil
}

// intInfo returns driver_internal_info[key] as an integer, or def when it
// is absent or null. Ironic stores numbers, but strings of digits are
// accepted too.
func (n node) intInfo(key string, def int) (int, error) {
	v, ok := n.DriverInternalInfo[key]
	if !ok || v == nil {
		return def, nil
	}
	switch v := v.(type) {
	case float64:
		if v != float64(int(v)) {
			return 0, sdk.InvalidArgument("driver_internal_info.%s: %v is not an integer", key, v)
		}
		return int(v), nil
	case string:
		i, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return 0, sdk.InvalidArgument("driver_internal_info.%s: %q is not an integer", key, v)
		}
		return i, nil
	}
	return 0, sdk.InvalidArgument("driver_internal_info.%s: %v is not an integer", key, v)
}

// boolInfo returns driver_internal_info[key] as a boolean, or def when it
// is absent or null.
func (n node) boolInfo(key string, def bool) (bool, error) {
	v, ok := n.DriverInternalInfo[key]
	if !ok || v == nil {
		return def, nil
	}
	switch v := v.(type) {
	case bool:
		return v, nil
	case string:
		b, err := parseBool(v)
		if err != nil {
			return false, sdk.InvalidArgument("driver_internal_info.%s: %v", key, err)
		}
		return b, nil
	}
	return false, sdk.InvalidArgument("driver_internal_info.%s: %v is not a boolean", key, v)
}

// parseBool parses a boolean as oslo's strict bool_from_string does.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "t", "true", "on", "y", "yes":
		return true, nil
	case "0", "f", "false", "off", "n", "no":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean", s)
}
