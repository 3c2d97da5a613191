package generic

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// hintKinds are the root device hints ironic-lib accepts, with their types.
var hintKinds = map[string]string{
	"size": "int", "rotational": "bool",
	"model": "str", "wwn": "str", "serial": "str", "vendor": "str",
	"wwn_with_extension": "str", "wwn_vendor_extension": "str",
	"name": "str", "hctl": "str", "by_path": "str",
}

// hintOperators are oslo's specs_matcher operators, longest first so that
// a prefix test picks the right one.
var hintOperators = []string{
	"<all-in>", "<in>", "<or>",
	"s==", "s!=", "s<=", "s>=", "s<", "s>",
	"==", "!=", "<=", ">=", "<", ">", "=",
}

// hint is one parsed root device hint: a key, an operator and its values,
// normalised as ironic-lib does (strings lower-cased and URL-quoted).
type hint struct {
	key    string
	op     string
	values []string
	flag   bool
}

// parseHints parses one hint dict of properties.skip_block_devices (the
// root device hint syntax). Unknown keys and malformed values are errors,
// as in ironic-lib.
func parseHints(h map[string]any) ([]hint, error) {
	var out []hint
	for key, raw := range h {
		kind, ok := hintKinds[key]
		if !ok {
			return nil, sdk.InvalidArgument("device hint %q is not valid", key)
		}
		p, err := parseHint(key, kind, raw)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func parseHint(key, kind string, raw any) (hint, error) {
	p := hint{key: key}
	if kind == "bool" {
		switch v := raw.(type) {
		case bool:
			p.flag = v
		case string:
			b, err := parseBool(v)
			if err != nil {
				return hint{}, sdk.InvalidArgument("device hint %s: %v", key, err)
			}
			p.flag = b
		default:
			return hint{}, sdk.InvalidArgument("device hint %s: %v is not a boolean", key, raw)
		}
		return p, nil
	}
	var expr string
	switch v := raw.(type) {
	case string:
		expr = v
	case float64:
		if kind != "int" {
			return hint{}, sdk.InvalidArgument("device hint %s: %v is not a string", key, raw)
		}
		expr = strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return hint{}, sdk.InvalidArgument("device hint %s: %v is not a %s", key, raw, kind)
	}
	expr = strings.ToLower(strings.TrimSpace(expr))
	if expr == "" {
		return hint{}, sdk.InvalidArgument("device hint %s is empty", key)
	}
	p.op, p.values = splitOperator(expr)
	if p.op == "" {
		p.op = "s=="
		if kind == "int" {
			p.op = "=="
		}
	}
	for i, v := range p.values {
		if kind == "int" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return hint{}, sdk.InvalidArgument("device hint %s: %q is not a positive integer", key, v)
			}
			continue
		}
		if key == "name" && !strings.HasPrefix(v, "/dev/") {
			v = "/dev/" + v
		}
		p.values[i] = pyQuote(v)
	}
	return p, nil
}

// splitOperator splits "op v1 [op v2 ...]" into the operator and its
// values; an expression without an operator is a single value.
func splitOperator(expr string) (op string, values []string) {
	for _, o := range hintOperators {
		if rest, ok := strings.CutPrefix(expr, o); ok && (rest == "" || rest[0] == ' ') {
			for _, v := range strings.Split(rest, o) {
				if v = strings.TrimSpace(v); v != "" {
					values = append(values, v)
				}
			}
			return o, values
		}
	}
	return "", []string{expr}
}

// matchHints reports whether dev matches every hint.
func matchHints(dev sdk.BlockDevice, hints []hint) bool {
	for _, h := range hints {
		if !h.match(dev) {
			return false
		}
	}
	return true
}

func (h hint) match(dev sdk.BlockDevice) bool {
	switch h.key {
	case "rotational":
		return dev.Rotational == h.flag
	case "size":
		return matchNumber(float64(dev.Size)/(1<<30), h.op, h.values)
	}
	v := deviceString(dev, h.key)
	if v == nil || strings.TrimSpace(*v) == "" {
		return false
	}
	return matchString(pyQuote(strings.ToLower(strings.TrimSpace(*v))), h.op, h.values)
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
	if len(values) == 0 {
		return false
	}
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
		for _, x := range values {
			if v == x {
				return true
			}
		}
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
	if len(nums) == 0 {
		return false
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
