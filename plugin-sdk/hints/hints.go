// Package hints implements root device hints as Ironic sends them in a
// node's instance_info.root_device or properties.root_device, with the
// meaning ironic-lib and ironic-python-agent give them. The same syntax is
// used by properties.skip_block_devices.
//
// A hint dict maps a key to an expression. The keys are name, model,
// vendor, serial, wwn, wwn_with_extension, wwn_vendor_extension, hctl and
// by_path (strings), size (an integer number of GiB, compared with the
// disk's size rounded down to whole GiB) and rotational (a boolean; strings
// such as "true", "no" or "1" are accepted). A name without the /dev/
// prefix gets it.
//
// An expression may start with one of oslo's specs_matcher operators:
//
//	strings: s== s!= s>= s> s<= s< <in> <or> (and <all-in>)
//	size:    == != >= > <= < <or>
//
// for example {"size": ">= 100", "model": "<in> ssd", "serial": "<or> a <or> b"}.
// Without an operator a string must equal the device's value (s==) and a
// size must equal the device's size (==). Strings compare lower-cased and
// URL-quoted, as ironic-lib normalises both sides; a device without the
// value never matches.
//
// Choose picks the install device as IPA's get_os_install_device does:
// with hints, the first disk (in inventory order) that matches all of
// them; without hints, the smallest disk of at least 4 GiB.
package hints

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// MinRootDiskSize is the smallest disk Choose takes without hints: 4 GiB,
// IPA's default.
const MinRootDiskSize = 4 << 30

// kinds are the hint keys ironic-lib accepts, with their types.
var kinds = map[string]string{
	"size": "int", "rotational": "bool",
	"model": "str", "wwn": "str", "serial": "str", "vendor": "str",
	"wwn_with_extension": "str", "wwn_vendor_extension": "str",
	"name": "str", "hctl": "str", "by_path": "str",
}

// operators are oslo's specs_matcher operators, longest first so that a
// prefix test picks the right one.
var operators = []string{
	"<all-in>", "<in>", "<or>",
	"s==", "s!=", "s<=", "s>=", "s<", "s>",
	"==", "!=", "<=", ">=", "<", ">", "=",
}

// Hints are parsed root device hints. The zero value has no hints: it
// matches every device, and Choose applies the 4 GiB rule.
type Hints struct {
	raw   map[string]any
	rules []rule
}

// rule is one parsed hint: a key, an operator and its values, normalised
// as ironic-lib does (strings lower-cased and URL-quoted).
type rule struct {
	key    string
	op     string
	values []string
	flag   bool
}

// Parse parses a hint dict. Unknown keys and malformed values are errors
// of kind sdk.KindInvalidArgument, as ironic-lib raises ValueError. An
// empty or nil dict gives no hints.
func Parse(raw map[string]any) (Hints, error) {
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	h := Hints{raw: raw}
	for _, key := range keys {
		kind, ok := kinds[key]
		if !ok {
			return Hints{}, sdk.InvalidArgument("device hint %q is not valid", key)
		}
		r, err := parseRule(key, kind, raw[key])
		if err != nil {
			return Hints{}, err
		}
		h.rules = append(h.rules, r)
	}
	return h, nil
}

// Empty reports whether there are no hints.
func (h Hints) Empty() bool { return len(h.rules) == 0 }

// String returns the hints as the JSON object they were parsed from, for
// messages.
func (h Hints) String() string {
	if len(h.raw) == 0 {
		return "{}"
	}
	return jsonText(h.raw)
}

// jsonText returns v as compact JSON with "<" and ">" left as they are.
func jsonText(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// Match reports whether dev matches every hint.
func (h Hints) Match(dev sdk.BlockDevice) bool {
	for _, r := range h.rules {
		if !r.match(dev) {
			return false
		}
	}
	return true
}

// FromNode returns the root device hints of a node as Ironic sends it
// (JSON): instance_info.root_device if it is set, else
// properties.root_device, else nil. Empty values count as unset, as in
// IPA. A node that does not decode, or hints that are not an object, are
// errors of kind sdk.KindInvalidArgument.
func FromNode(nodeJSON []byte) (map[string]any, error) {
	s := strings.TrimSpace(string(nodeJSON))
	if s == "" || s == "null" {
		return nil, nil
	}
	var n struct {
		InstanceInfo map[string]any `json:"instance_info"`
		Properties   map[string]any `json:"properties"`
	}
	if err := json.Unmarshal(nodeJSON, &n); err != nil {
		return nil, sdk.InvalidArgument("decode node: %v", err)
	}
	for _, src := range []struct {
		field string
		m     map[string]any
	}{{"instance_info", n.InstanceInfo}, {"properties", n.Properties}} {
		v := src.m["root_device"]
		if falsy(v) {
			continue
		}
		h, ok := v.(map[string]any)
		if !ok {
			return nil, sdk.InvalidArgument("%s.root_device: %v is not an object", src.field, v)
		}
		return h, nil
	}
	return nil, nil
}

// falsy reports whether v is false in Python's sense.
func falsy(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case bool:
		return !v
	case float64:
		return v == 0
	case string:
		return v == ""
	case []any:
		return len(v) == 0
	case map[string]any:
		return len(v) == 0
	}
	return false
}

// Choose returns the device an image goes to: with hints, the first of
// disks, in their order, that matches all of them; without, the smallest
// disk of at least MinRootDiskSize, ties going to the lowest name. When no
// disk qualifies the error has kind sdk.KindHardware and IPA's class
// DeviceNotFound.
func Choose(disks []sdk.BlockDevice, h Hints) (sdk.BlockDevice, error) {
	if !h.Empty() {
		for _, d := range disks {
			if h.Match(d) {
				return d, nil
			}
		}
		return sdk.BlockDevice{}, sdk.HardwareError("DeviceNotFound",
			"No suitable device was found for deployment using these hints %s", h)
	}
	if len(disks) == 0 {
		return sdk.BlockDevice{}, sdk.HardwareError("DeviceNotFound",
			"No suitable device was found for deployment - root device hints were not provided and no block devices were found")
	}
	var best *sdk.BlockDevice
	for i := range disks {
		d := &disks[i]
		if d.Size < MinRootDiskSize {
			continue
		}
		if best == nil || d.Size < best.Size || d.Size == best.Size && d.Name < best.Name {
			best = d
		}
	}
	if best == nil {
		return sdk.BlockDevice{}, sdk.HardwareError("DeviceNotFound",
			"No suitable device was found for deployment - root device hints were not provided and all found block devices are smaller than %dB (4 GiB)", MinRootDiskSize)
	}
	return *best, nil
}

// ChooseForNode applies the root device hints of a node (FromNode) to
// disks with Choose. Every failure, invalid hints included, has IPA's
// class DeviceNotFound, as in IPA's get_os_install_device.
func ChooseForNode(nodeJSON []byte, disks []sdk.BlockDevice) (sdk.BlockDevice, error) {
	raw, err := FromNode(nodeJSON)
	if err != nil {
		return sdk.BlockDevice{}, sdk.HardwareError("DeviceNotFound",
			"No devices could be found because the node's root device hints cannot be read: %v", err)
	}
	h, err := Parse(raw)
	if err != nil {
		return sdk.BlockDevice{}, sdk.HardwareError("DeviceNotFound",
			"No devices could be found using the root device hints %s because they failed to validate. Error: %v", jsonText(raw), err)
	}
	return Choose(disks, h)
}

func parseRule(key, kind string, raw any) (rule, error) {
	r := rule{key: key}
	if kind == "bool" {
		if b, ok := raw.(bool); ok {
			r.flag = b
			return r, nil
		}
		// oslo's bool_from_string takes str() of a number.
		s, ok := raw.(string)
		if !ok {
			s, ok = number(raw)
		}
		if !ok {
			return rule{}, sdk.InvalidArgument("device hint %s: %v is not a boolean", key, raw)
		}
		b, err := parseBool(s)
		if err != nil {
			return rule{}, sdk.InvalidArgument("device hint %s: %v", key, err)
		}
		r.flag = b
		return r, nil
	}
	expr, ok := raw.(string)
	if !ok {
		n, isNum := number(raw)
		switch {
		case kind == "str":
			return rule{}, sdk.InvalidArgument("device hint %s: %v is not a string", key, raw)
		case !isNum:
			return rule{}, sdk.InvalidArgument("device hint %s: %v is not an integer", key, raw)
		}
		expr = n
	}
	expr = strings.ToLower(strings.TrimSpace(expr))
	if expr == "" {
		return rule{}, sdk.InvalidArgument("device hint %s is empty", key)
	}
	r.op, r.values = splitOperator(expr)
	if r.op == "" {
		r.op = "s=="
		if kind == "int" {
			r.op = "=="
		}
	}
	if len(r.values) == 0 {
		return rule{}, sdk.InvalidArgument("device hint %s: %q has no value", key, expr)
	}
	for i, v := range r.values {
		if kind == "int" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return rule{}, sdk.InvalidArgument("device hint %s: %q is not a positive integer", key, v)
			}
			continue
		}
		if key == "name" && !strings.HasPrefix(v, "/dev/") {
			v = "/dev/" + v
		}
		r.values[i] = pyQuote(v)
	}
	return r, nil
}

// number formats a JSON or Go number as Python's str() would an integer;
// ok is false for anything else.
func number(v any) (s string, ok bool) {
	switch v := v.(type) {
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case float32:
		return strconv.FormatFloat(float64(v), 'f', -1, 32), true
	case json.Number:
		return v.String(), true
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return fmt.Sprint(v), true
	}
	return "", false
}

// splitOperator splits "op v1 [op v2 ...]" into the operator and its
// values; an expression without an operator is a single value.
func splitOperator(expr string) (op string, values []string) {
	for _, o := range operators {
		if rest, ok := strings.CutPrefix(expr, o); ok && (rest == "" || rest[0] == ' ') {
			for v := range strings.SplitSeq(rest, o) {
				if v = strings.TrimSpace(v); v != "" {
					values = append(values, v)
				}
			}
			return o, values
		}
	}
	return "", []string{expr}
}

func (r rule) match(dev sdk.BlockDevice) bool {
	switch r.key {
	case "rotational":
		return dev.Rotational == r.flag
	case "size":
		// IPA compares whole GiB: size // units.Gi.
		return matchNumber(float64(dev.Size>>30), r.op, r.values)
	}
	v := deviceString(dev, r.key)
	if v == nil || strings.TrimSpace(*v) == "" {
		return false
	}
	return matchString(pyQuote(strings.ToLower(strings.TrimSpace(*v))), r.op, r.values)
}

func deviceString(dev sdk.BlockDevice, key string) *string {
	switch key {
	case "name":
		return &dev.Name
	case "model":
		return dev.Model
	case "wwn":
		return dev.WWN
	case "serial":
		return dev.Serial
	case "vendor":
		return dev.Vendor
	case "wwn_with_extension":
		return dev.WWNWithExtension
	case "wwn_vendor_extension":
		return dev.WWNVendorExtension
	case "hctl":
		return dev.HCTL
	case "by_path":
		return dev.ByPath
	}
	return nil
}

func matchString(v, op string, values []string) bool {
	w := values[0]
	switch op {
	case "s==", "==", "=":
		return v == w
	case "s!=", "!=":
		return v != w
	case "s<":
		return v < w
	case "s<=":
		return v <= w
	case "s>":
		return v > w
	case "s>=":
		return v >= w
	case "<in>":
		return strings.Contains(v, w)
	case "<all-in>":
		for _, x := range values {
			if !strings.Contains(v, x) {
				return false
			}
		}
		return true
	case "<or>":
		return slices.Contains(values, v)
	}
	return false
}

func matchNumber(v float64, op string, values []string) bool {
	nums := make([]float64, 0, len(values))
	for _, s := range values {
		n, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return false
		}
		nums = append(nums, n)
	}
	w := nums[0]
	switch op {
	case "==":
		return v == w
	case "=", ">=":
		// oslo's "=" means "at least".
		return v >= w
	case "!=":
		return v != w
	case "<":
		return v < w
	case "<=":
		return v <= w
	case ">":
		return v > w
	case "<or>":
		for _, n := range nums {
			if math.Abs(v-n) < 1e-9 {
				return true
			}
		}
	}
	return false
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

// pyQuote percent-encodes s as Python's urllib.parse.quote does with its
// default safe "/": letters, digits, "_.-~" and "/" stay as they are.
func pyQuote(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_.-~/", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// SkipList parses a node's properties.skip_block_devices: a list of hint
// objects whose matching disks are never chosen nor erased. Entries naming
// a RAID volume ({"volume_name": ...}) are left out, since they match no
// inventory disk.
func SkipList(entries []map[string]any) ([]Hints, error) {
	var out []Hints
	for i, e := range entries {
		if _, ok := e["volume_name"]; ok {
			continue
		}
		h, err := Parse(e)
		if err != nil {
			return nil, fmt.Errorf("skip_block_devices[%d]: %w", i, err)
		}
		out = append(out, h)
	}
	return out, nil
}

// AnyMatch reports whether dev matches one of list.
func AnyMatch(list []Hints, dev sdk.BlockDevice) bool {
	for _, h := range list {
		if h.Match(dev) {
			return true
		}
	}
	return false
}
