package generic

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// readString returns the content of a sysfs or procfs attribute with
// surrounding white space removed.
func readString(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// readOptional returns the trimmed attribute at path, or nil when it is
// missing, unreadable or empty: IPA's null.
func readOptional(path string) *string {
	s, err := readString(path)
	if err != nil || s == "" {
		return nil
	}
	return &s
}

// readInt returns the attribute at path as a decimal integer.
func readInt(path string) (int64, error) {
	s, err := readString(path)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse %s: %w", path, err)
	}
	return n, nil
}

// exists reports whether path exists, without following a final symbolic
// link.
func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// linkBase returns the last element of the target of the symbolic link at
// path, or "" when path is not a readable link.
func linkBase(path string) string {
	target, err := os.Readlink(path)
	if err != nil {
		return ""
	}
	return filepath.Base(target)
}

// compareNatural orders names as people do: digit runs compare as
// numbers, so loop2 comes before loop10 and nvme0n2 before nvme0n10.
func compareNatural(a, b string) int {
	for a != "" && b != "" {
		if isDigit(a[0]) && isDigit(b[0]) {
			na, ra := digitRun(a)
			nb, rb := digitRun(b)
			ta, tb := strings.TrimLeft(na, "0"), strings.TrimLeft(nb, "0")
			if c := cmp.Compare(len(ta), len(tb)); c != 0 {
				return c
			}
			if c := strings.Compare(ta, tb); c != 0 {
				return c
			}
			a, b = ra, rb
			continue
		}
		if c := cmp.Compare(a[0], b[0]); c != 0 {
			return c
		}
		a, b = a[1:], b[1:]
	}
	return cmp.Compare(len(a), len(b))
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// digitRun splits s into its leading run of digits and the rest.
func digitRun(s string) (run, rest string) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return s[:i], s[i:]
}
