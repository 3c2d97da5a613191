package sdk

import (
	"context"
	"encoding/json"
	"fmt"
)

// Inventory is IPA's hardware inventory (the result of poll.get_hardware_info
// and the "inventory" of an inspection). A manager fills the components it
// knows and leaves the others nil; the host merges the managers' answers,
// the highest support level winning per component, and disks and interfaces
// merged by name.
type Inventory struct {
	Interfaces   []NetworkInterface `json:"interfaces,omitempty"`
	CPU          *CPU               `json:"cpu,omitempty"`
	Disks        []BlockDevice      `json:"disks,omitempty"`
	Memory       *Memory            `json:"memory,omitempty"`
	BMCAddress   *string            `json:"bmc_address,omitempty"`
	BMCV6Address *string            `json:"bmc_v6address,omitempty"`
	BMCMAC       *string            `json:"bmc_mac,omitempty"`
	SystemVendor *SystemVendorInfo  `json:"system_vendor,omitempty"`
	Boot         *BootInfo          `json:"boot,omitempty"`
	Hostname     *string            `json:"hostname,omitempty"`
	// Vendor is vendor-only data, sent as top-level keys beside IPA's.
	// Use one key named after the manager (its Version name), holding an
	// object: {"acme_raid": {...}}. Keys that are IPA's are refused.
	Vendor map[string]any `json:"-"`
}

// ipaKeys are the inventory's own top-level keys.
var ipaKeys = map[string]bool{
	"interfaces": true, "cpu": true, "disks": true, "memory": true, "bmc_address": true,
	"bmc_v6address": true, "bmc_mac": true, "system_vendor": true, "boot": true, "hostname": true,
}

// inventoryFields has Inventory's fields without its methods, so that
// marshalling it does not recurse.
type inventoryFields Inventory

// MarshalJSON encodes the inventory as IPA's JSON object, with the vendor
// keys beside IPA's.
func (inv Inventory) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(inventoryFields(inv))
	if err != nil || len(inv.Vendor) == 0 {
		return b, err
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		return nil, err
	}
	for k, v := range inv.Vendor {
		if ipaKeys[k] {
			return nil, fmt.Errorf("inventory: vendor key %q is one of IPA's keys", k)
		}
		raw, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("inventory: vendor key %q: %w", k, err)
		}
		obj[k] = raw
	}
	return json.Marshal(obj)
}

// UnmarshalJSON decodes IPA's JSON object; keys that are not IPA's go to
// Vendor.
func (inv *Inventory) UnmarshalJSON(b []byte) error {
	var f inventoryFields
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		return err
	}
	for k, raw := range obj {
		if ipaKeys[k] {
			continue
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return fmt.Errorf("inventory: vendor key %q: %w", k, err)
		}
		if f.Vendor == nil {
			f.Vendor = map[string]any{}
		}
		f.Vendor[k] = v
	}
	*inv = Inventory(f)
	return nil
}

// InventoryJSONer is implemented by a manager that builds its inventory as
// JSON itself. Serve then sends that JSON as it is instead of marshalling
// Inventory: the way to send partial disk or interface entries (only the
// fields the manager knows, for the host to merge by name with lower
// managers' entries), which the typed structs cannot express because their
// non-pointer fields are always sent.
type InventoryJSONer interface {
	InventoryJSON(ctx context.Context) (json.RawMessage, error)
}

// NetworkInterface is one entry of the inventory's "interfaces".
type NetworkInterface struct {
	Name        string    `json:"name"`
	MACAddress  string    `json:"mac_address"`
	IPv4Address *string   `json:"ipv4_address"`
	IPv6Address *string   `json:"ipv6_address"`
	HasCarrier  bool      `json:"has_carrier"`
	LLDP        []LLDPTLV `json:"lldp"`
	Vendor      *string   `json:"vendor"`
	Product     *string   `json:"product"`
	ClientID    *string   `json:"client_id"`
	BIOSDevName *string   `json:"biosdevname"`
	SpeedMbps   *int      `json:"speed_mbps"`
	PCIAddress  *string   `json:"pci_address"`
	Driver      *string   `json:"driver"`
}

// CPU is the inventory's "cpu".
type CPU struct {
	ModelName    string   `json:"model_name"`
	Frequency    *string  `json:"frequency"`
	Count        int      `json:"count"`
	Architecture string   `json:"architecture"`
	Flags        []string `json:"flags"`
	SocketCount  *int     `json:"socket_count,omitempty"`
}

// BlockDevice is one entry of the inventory's "disks". Size is in bytes.
type BlockDevice struct {
	Name               string  `json:"name"`
	Model              *string `json:"model"`
	Size               int64   `json:"size"`
	Rotational         bool    `json:"rotational"`
	WWN                *string `json:"wwn"`
	Serial             *string `json:"serial"`
	Vendor             *string `json:"vendor"`
	WWNWithExtension   *string `json:"wwn_with_extension"`
	WWNVendorExtension *string `json:"wwn_vendor_extension"`
	HCTL               *string `json:"hctl"`
	ByPath             *string `json:"by_path"`
}

// Memory is the inventory's "memory": total in bytes, physical_mb in MiB.
type Memory struct {
	Total      int64 `json:"total"`
	PhysicalMB *int  `json:"physical_mb"`
}

// SystemVendorInfo is the inventory's "system_vendor".
type SystemVendorInfo struct {
	ProductName  string    `json:"product_name"`
	SerialNumber string    `json:"serial_number"`
	Manufacturer string    `json:"manufacturer"`
	Firmware     *Firmware `json:"firmware,omitempty"`
}

// Firmware is the system firmware, as newer IPA reports it.
type Firmware struct {
	Vendor    string `json:"vendor"`
	Version   string `json:"version"`
	BuildDate string `json:"build_date"`
}

// BootInfo is the inventory's "boot".
type BootInfo struct {
	CurrentBootMode string  `json:"current_boot_mode"`
	PXEInterface    *string `json:"pxe_interface"`
}

// Ptr returns a pointer to v, for the inventory's nullable fields.
func Ptr[T any](v T) *T { return &v }

// LLDPTLV is one LLDP TLV as IPA reports it: the JSON pair
// [type, "hex of the value"].
type LLDPTLV struct {
	Type  int
	Value string
}

// MarshalJSON encodes the TLV as IPA's [type, "hex"] pair.
func (t LLDPTLV) MarshalJSON() ([]byte, error) {
	return json.Marshal([2]any{t.Type, t.Value})
}

// UnmarshalJSON decodes IPA's [type, "hex"] pair.
func (t *LLDPTLV) UnmarshalJSON(b []byte) error {
	var pair []json.RawMessage
	if err := json.Unmarshal(b, &pair); err != nil {
		return fmt.Errorf("lldp tlv: %w", err)
	}
	if len(pair) != 2 {
		return fmt.Errorf("lldp tlv: want [type, value], got %d elements", len(pair))
	}
	if err := json.Unmarshal(pair[0], &t.Type); err != nil {
		return fmt.Errorf("lldp tlv type: %w", err)
	}
	if err := json.Unmarshal(pair[1], &t.Value); err != nil {
		return fmt.Errorf("lldp tlv value: %w", err)
	}
	return nil
}
