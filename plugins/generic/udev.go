package generic

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// udevProperties returns the properties (E: lines) of the udev database
// entry of the block device with id "major:minor", or an empty map when
// udev has none (no udevd, or the device is not in its database).
func (s system) udevProperties(devID string) map[string]string {
	props := map[string]string{}
	if devID == "" {
		return props
	}
	f, err := os.Open(s.udevDataPath(devID))
	if err != nil {
		return props
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		kv, ok := strings.CutPrefix(sc.Text(), "E:")
		if !ok {
			continue
		}
		if k, v, ok := strings.Cut(kv, "="); ok {
			props[k] = v
		}
	}
	return props
}

// udevDataPath is the path of the udev database entry of the block device
// with id "major:minor".
func (s system) udevDataPath(devID string) string {
	return filepath.Join(s.runRoot, "udev", "data", "b"+devID)
}

// firstProperty returns the first non-empty value among keys, trimmed, or
// nil.
func firstProperty(props map[string]string, keys ...string) *string {
	for _, k := range keys {
		if v := strings.TrimSpace(props[k]); v != "" {
			return &v
		}
	}
	return nil
}

// udevUnescape decodes the \xNN escapes udev uses in *_ENC properties.
func udevUnescape(s string) string {
	if !strings.Contains(s, `\x`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			if n, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
