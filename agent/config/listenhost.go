package config

import (
	"os"
	"strings"
)

// ipv6DisabledFile tells whether the kernel has IPv6 disabled by default.
const ipv6DisabledFile = "/proc/sys/net/ipv6/conf/default/disable_ipv6"

// wildcardAddress is IPA's default listen address: "::" when IPv6 is
// enabled (disableFile exists and holds 0), else "0.0.0.0".
func wildcardAddress(disableFile string) string {
	b, err := os.ReadFile(disableFile)
	if err == nil && strings.TrimSpace(string(b)) == "0" {
		return "::"
	}
	return "0.0.0.0"
}
