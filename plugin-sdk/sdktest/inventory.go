package sdktest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// The shapes of IPA's inventory (ironic-python-agent's list_hardware_info).
var (
	macRE   = regexp.MustCompile(`^[0-9a-f]{2}(:[0-9a-f]{2}){5}$`)
	pciIDRE = regexp.MustCompile(`^0x[0-9a-f]{4}$`)
	hexRE   = regexp.MustCompile(`^([0-9a-fA-F]{2})*$`)
)

// field describes one key of an inventory object.
type field struct {
	name     string
	required bool
	check    func(c *invChecker, path string, v any)
}

var interfaceFields = []field{
	{"name", true, nonEmptyString},
	{"mac_address", false, str(false, mac)},
	{"ipv4_address", false, str(true, ipAddr(true))},
	{"ipv6_address", false, str(true, ipAddr(false))},
	{"has_carrier", false, boolean},
	{"lldp", false, lldp},
	{"vendor", false, str(true, pciID)},
	{"product", false, str(true, pciID)},
	{"client_id", false, str(true, nil)},
	{"biosdevname", false, str(true, nil)},
	{"speed_mbps", false, integer(true)},
	{"pci_address", false, str(true, nil)},
	{"driver", false, str(true, nil)},
}

var cpuFields = []field{
	{"model_name", true, str(false, nil)},
	{"frequency", true, str(true, nil)},
	{"count", true, integer(false)},
	{"architecture", true, str(false, nil)},
	{"flags", true, stringList},
	{"socket_count", false, integer(true)},
}

var diskFields = []field{
	{"name", true, str(false, diskName)},
	{"model", false, str(true, nil)},
	{"size", false, integer(false)},
	{"rotational", false, boolean},
	{"wwn", false, str(true, nil)},
	{"serial", false, str(true, nil)},
	{"vendor", false, str(true, nil)},
	{"wwn_with_extension", false, str(true, nil)},
	{"wwn_vendor_extension", false, str(true, nil)},
	{"hctl", false, str(true, nil)},
	{"by_path", false, str(true, nil)},
	{"logical_sectors", false, integer(true)},
	{"physical_sectors", false, integer(true)},
	{"tran", false, str(true, nil)},
}

var memoryFields = []field{
	{"total", true, integer(false)},
	{"physical_mb", true, integer(true)},
}

var firmwareFields = []field{
	{"vendor", true, str(false, nil)},
	{"version", true, str(false, nil)},
	{"build_date", true, str(false, nil)},
}

var systemVendorFields = []field{
	{"product_name", true, str(false, nil)},
	{"serial_number", true, str(false, nil)},
	{"manufacturer", true, str(false, nil)},
	{"firmware", false, nullable(object(firmwareFields))},
}

var bootFields = []field{
	{"current_boot_mode", true, str(false, bootMode)},
	{"pxe_interface", true, str(true, nil)},
}

// topFields are IPA's top-level inventory keys.
var topFields = []field{
	{"interfaces", false, namedList(interfaceFields)},
	{"cpu", false, object(cpuFields)},
	{"disks", false, namedList(diskFields)},
	{"memory", false, object(memoryFields)},
	{"bmc_address", false, str(true, nil)},
	{"bmc_v6address", false, str(true, nil)},
	{"bmc_mac", false, str(true, mac)},
	{"system_vendor", false, object(systemVendorFields)},
	{"boot", false, object(bootFields)},
	{"hostname", false, str(false, nil)},
}

// invChecker collects the findings about one inventory.
type invChecker struct{ out []finding }

func (c *invChecker) add(rule, path, format string, a ...any) {
	c.out = append(c.out, finding{rule, path + ": " + fmt.Sprintf(format, a...)})
}

// checkInventoryJSON checks an inventory's JSON; vendorKeys are the
// top-level keys allowed besides IPA's.
func checkInventoryJSON(raw []byte, vendorKeys []string) []finding {
	c := &invChecker{}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		// The host reads no bytes as no components.
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		c.out = append(c.out, finding{"inventory-object", fmt.Sprintf("inventory is not JSON: %v", err)})
		return c.out
	}
	if dec.More() {
		c.out = append(c.out, finding{"inventory-object", "inventory has data after its JSON value"})
		return c.out
	}
	top, ok := v.(map[string]any)
	if !ok {
		c.out = append(c.out, finding{"inventory-object", fmt.Sprintf("inventory is %s, not a JSON object of IPA's inventory keys", jsonType(v))})
		return c.out
	}
	c.fields("", top, topFields, "")
	known := make([]string, 0, len(topFields))
	for _, f := range topFields {
		known = append(known, f.name)
	}
	for _, k := range sortedKeys(top) {
		if slices.Contains(known, k) {
			continue
		}
		if !slices.Contains(vendorKeys, k) {
			allowed := "none"
			if len(vendorKeys) > 0 {
				allowed = fmt.Sprintf("%q", vendorKeys)
			}
			c.add("inventory-key", k, "is not one of IPA's inventory keys (%s); a plugin may add only a vendor section named after the name it reports from Version (vendor sections allowed here: %s)",
				strings.Join(known, ", "), allowed)
			continue
		}
		if _, ok := top[k].(map[string]any); !ok {
			c.add("inventory-key", k, "is a vendor section and must be a JSON object, not %s", jsonType(top[k]))
		}
	}
	return c.out
}

// fields checks the keys of an object; unknown keys are allowed below the
// top level, where newer IPA releases add fields. why explains required
// keys.
func (c *invChecker) fields(path string, obj map[string]any, fields []field, why string) {
	for _, f := range fields {
		p := f.name
		if path != "" {
			p = path + "." + f.name
		}
		v, ok := obj[f.name]
		if !ok {
			if f.required {
				c.add("inventory-required", p, "is missing: %s", why)
			}
			continue
		}
		f.check(c, p, v)
	}
}

func object(fields []field) func(*invChecker, string, any) {
	return func(c *invChecker, path string, v any) {
		obj, ok := v.(map[string]any)
		if !ok {
			c.add("inventory-type", path, "is %s, want an object", jsonType(v))
			return
		}
		c.fields(path, obj, fields, "the host takes this component whole from the highest manager that reports it, so it must be complete")
	}
}

func nullable(check func(*invChecker, string, any)) func(*invChecker, string, any) {
	return func(c *invChecker, path string, v any) {
		if v != nil {
			check(c, path, v)
		}
	}
}

// namedList checks a list of objects merged by name (interfaces, disks).
func namedList(fields []field) func(*invChecker, string, any) {
	return func(c *invChecker, path string, v any) {
		list, ok := v.([]any)
		if !ok {
			c.add("inventory-type", path, "is %s, want a list", jsonType(v))
			return
		}
		seen := map[string]int{}
		for i, e := range list {
			p := fmt.Sprintf("%s[%d]", path, i)
			obj, ok := e.(map[string]any)
			if !ok {
				c.add("inventory-type", p, "is %s, want an object", jsonType(e))
				continue
			}
			c.fields(p, obj, fields, "the host merges entries by name")
			if name, ok := obj["name"].(string); ok && name != "" {
				if j, dup := seen[name]; dup {
					c.add("inventory-unique", p, "has the name %q of %s[%d]: the host merges entries by name", name, path, j)
				} else {
					seen[name] = i
				}
			}
		}
	}
}

// str checks a string (or null when nullable) and its value with valid.
func str(nullable bool, valid func(c *invChecker, path, s string)) func(*invChecker, string, any) {
	return func(c *invChecker, path string, v any) {
		if v == nil && nullable {
			return
		}
		s, ok := v.(string)
		if !ok {
			want := "a string"
			if nullable {
				want = "a string or null"
			}
			c.add("inventory-type", path, "is %s, want %s", jsonType(v), want)
			return
		}
		if valid != nil {
			valid(c, path, s)
		}
	}
}

func nonEmptyString(c *invChecker, path string, v any) {
	str(false, func(c *invChecker, path, s string) {
		if s == "" {
			c.add("inventory-required", path, "is empty: the host merges entries by name")
		}
	})(c, path, v)
}

// integer checks a non-negative integer (or null when nullable).
func integer(nullable bool) func(*invChecker, string, any) {
	return func(c *invChecker, path string, v any) {
		if v == nil && nullable {
			return
		}
		n, ok := v.(json.Number)
		if !ok {
			want := "an integer"
			if nullable {
				want = "an integer or null"
			}
			c.add("inventory-type", path, "is %s, want %s", jsonType(v), want)
			return
		}
		i, err := n.Int64()
		if err != nil {
			c.add("inventory-type", path, "is %s, want an integer", n)
			return
		}
		if i < 0 {
			c.add("non-negative", path, "is %d, must not be negative", i)
		}
	}
}

func boolean(c *invChecker, path string, v any) {
	if _, ok := v.(bool); !ok {
		c.add("inventory-type", path, "is %s, want true or false", jsonType(v))
	}
}

func stringList(c *invChecker, path string, v any) {
	list, ok := v.([]any)
	if !ok {
		c.add("inventory-type", path, "is %s, want a list of strings", jsonType(v))
		return
	}
	for i, e := range list {
		if _, ok := e.(string); !ok {
			c.add("inventory-type", fmt.Sprintf("%s[%d]", path, i), "is %s, want a string", jsonType(e))
		}
	}
}

func mac(c *invChecker, path, s string) {
	if !macRE.MatchString(s) {
		c.add("mac-address", path, "%q is not a lowercase MAC address like aa:bb:cc:dd:ee:ff: Ironic matches ports by it", s)
	}
}

func pciID(c *invChecker, path, s string) {
	if !pciIDRE.MatchString(s) {
		c.add("pci-id", path, "%q is not a PCI ID like \"0x8086\" (0x and four lowercase hex digits, as sysfs writes it)", s)
	}
}

func ipAddr(v4 bool) func(c *invChecker, path, s string) {
	return func(c *invChecker, path, s string) {
		a, err := netip.ParseAddr(s)
		switch {
		case err != nil:
			c.add("ip-address", path, "%q is not an IP address", s)
		case v4 && !a.Is4():
			c.add("ip-address", path, "%q is not an IPv4 address", s)
		case !v4 && !a.Is6():
			c.add("ip-address", path, "%q is not an IPv6 address", s)
		}
	}
}

func diskName(c *invChecker, path, s string) {
	if !strings.HasPrefix(s, "/dev/") || len(s) == len("/dev/") {
		c.add("disk-name", path, "%q is not a device path: IPA names disks /dev/<kname>, and Ironic's root device hints match them", s)
	}
}

func bootMode(c *invChecker, path, s string) {
	if s != "uefi" && s != "bios" {
		c.add("boot-mode", path, "%q is neither \"uefi\" nor \"bios\"", s)
	}
}

// lldp checks null or a list of [type, "hex"] TLVs.
func lldp(c *invChecker, path string, v any) {
	if v == nil {
		return
	}
	list, ok := v.([]any)
	if !ok {
		c.add("lldp-tlv", path, "is %s, want null or a list of [type, \"hex\"] pairs", jsonType(v))
		return
	}
	for i, e := range list {
		p := fmt.Sprintf("%s[%d]", path, i)
		pair, ok := e.([]any)
		if !ok || len(pair) != 2 {
			c.add("lldp-tlv", p, "is %s, want a [type, \"hex\"] pair", compact(e))
			continue
		}
		n, ok := pair[0].(json.Number)
		t, err := n.Int64()
		if !ok || err != nil || t < 0 || t > 127 {
			c.add("lldp-tlv", p, "has type %s, want an integer 0..127", compact(pair[0]))
		}
		if s, ok := pair[1].(string); !ok || !hexRE.MatchString(s) {
			c.add("lldp-tlv", p, "has value %s, want the TLV's bytes as a hex string", compact(pair[1]))
		}
	}
}

func jsonType(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "the number " + v.String()
	case string:
		return fmt.Sprintf("the string %q", truncate(v, 40))
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func compact(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return truncate(string(b), 60)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
