package config

import (
	"fmt"
	"os"
	"strings"
	"unicode"
)

// ReadCmdline reads the kernel parameters in path (normally /proc/cmdline)
// as ParseCmdline does.
func ReadCmdline(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read kernel parameters: %w", err)
	}
	return ParseCmdline(string(b)), nil
}

// ParseCmdline parses a kernel command line into key=value parameters, as
// IPA does: every token holding "=" is split at its first "=", the last
// occurrence of a key wins, tokens without "=" are ignored. Unlike IPA,
// and like the kernel itself, double quotes group blanks into a token and
// are removed: ipa-x="a b" is "a b" where IPA would keep `"a`.
func ParseCmdline(s string) map[string]string {
	params := map[string]string{}
	for _, tok := range cmdlineTokens(s) {
		k, v, ok := strings.Cut(tok, "=")
		if !ok || k == "" {
			continue
		}
		params[k] = v
	}
	return params
}

// cmdlineTokens splits s at blanks outside double quotes and drops the
// quotes.
func cmdlineTokens(s string) []string {
	var (
		toks   []string
		cur    strings.Builder
		quoted bool
		inTok  bool
	)
	for _, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
			inTok = true
		case unicode.IsSpace(r) && !quoted:
			if inTok {
				toks = append(toks, cur.String())
				cur.Reset()
				inTok = false
			}
		default:
			cur.WriteRune(r)
			inTok = true
		}
	}
	if inTok {
		toks = append(toks, cur.String())
	}
	return toks
}

// BootIFMAC returns the MAC address in a BOOTIF value, normalised as IPA
// does before comparing it with interfaces: pxelinux's
// "01-aa-bb-cc-dd-ee-ff" (hardware type first) loses everything up to its
// first dash and its other dashes become colons; iPXE's
// "aa:bb:cc:dd:ee:ff" is kept. The result is lower case; "" stays "".
func BootIFMAC(bootif string) string {
	mac := strings.TrimSpace(bootif)
	if _, rest, ok := strings.Cut(mac, "-"); ok {
		mac = strings.ReplaceAll(rest, "-", ":")
	}
	return strings.ToLower(mac)
}
