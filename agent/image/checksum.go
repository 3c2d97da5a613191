package image

import (
	"context"
	"crypto/md5"  //nolint:gosec // IPA's legacy image checksum.
	"crypto/sha1" //nolint:gosec // Glance's os_hash_algo may name it.
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"net/url"
	"path"
	"regexp"
	"strings"

	"github.com/metalagent/metalagent/agent/ipa"
)

// algorithm is a supported hash algorithm.
type algorithm struct {
	name string
	new  func() hash.Hash
	size int // digest length in hex digits
}

// algorithms are the os_hash_algo values the agent can verify.
var algorithms = map[string]algorithm{
	"md5":    {"md5", md5.New, 32},
	"sha1":   {"sha1", sha1.New, 40},
	"sha224": {"sha224", sha256.New224, 56},
	"sha256": {"sha256", sha256.New, 64},
	"sha384": {"sha384", sha512.New384, 96},
	"sha512": {"sha512", sha512.New, 128},
}

// maxChecksumFile bounds the size of a downloaded checksum file.
const maxChecksumFile = 16 << 20

// checksum is what an image is verified against.
type checksum struct {
	algo     algorithm
	expected string // lowercase hex
}

// resolveChecksum picks the algorithm and expected digest as IPA does:
// os_hash_algo/os_hash_value when the algorithm is supported, else the
// legacy checksum field. An expected value that is an http(s) URL is a
// checksum file to download. The legacy field is MD5, or SHA-256/SHA-512
// when its length says so (as newer IPA infers).
func resolveChecksum(ctx context.Context, f *fetcher, info Info, allowMD5 bool) (checksum, error) {
	name := strings.ToLower(strings.TrimSpace(info.OSHashAlgo))
	algo, supported := algorithms[name]
	legacy := !supported || info.OSHashValue == ""
	if legacy && info.Checksum == "" {
		return checksum{}, invalidParams(nil, "Unable to verify image %s with available checksums. "+
			"Please make sure the specified 'os_hash_algo' (currently %q) is supported by this agent "+
			"(md5, sha1, sha224, sha256, sha384, sha512), or provide a checksum via the 'checksum' field.",
			info.ID, info.OSHashAlgo)
	}
	value, field := info.OSHashValue, "os_hash_value"
	if legacy {
		value, field = info.Checksum, "checksum"
	}
	value = strings.TrimSpace(value)
	if isURL(value) {
		want := 0
		if !legacy {
			want = algo.size
		}
		v, err := fetchChecksum(ctx, f, value, imageFileName(info), want)
		if err != nil {
			return checksum{}, err
		}
		value = v
	}
	value = strings.ToLower(value)
	if legacy {
		switch len(value) {
		case 64:
			algo = algorithms["sha256"]
		case 128:
			algo = algorithms["sha512"]
		default:
			algo = algorithms["md5"]
		}
	}
	if algo.name == "md5" && !allowMD5 {
		return checksum{}, ipa.New(classChecksum,
			"Image %s can only be verified with MD5 (%s field), and MD5 checksums are disabled in this agent; "+
				"enable them (image option AllowMD5, IPA's md5_enabled) or give the image an "+
				"os_hash_algo/os_hash_value pair such as sha256 or sha512.", info.ID, field)
	}
	if _, err := hex.DecodeString(value); err != nil || len(value) != algo.size {
		return checksum{}, ipa.New(classChecksum,
			"Image %s: expected %s checksum %q (from the %s field) is not a %d-digit hex digest.",
			info.ID, algo.name, value, field, algo.size)
	}
	return checksum{algo: algo, expected: value}, nil
}

// isURL reports whether s is an http(s) URL rather than a digest.
func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// imageFileName is the name a checksum file lists the image under: the
// base name of the first image URL's path, as IPA assumes.
func imageFileName(info Info) string {
	u, err := url.Parse(info.URLs[0])
	if err != nil {
		return path.Base(info.URLs[0])
	}
	return path.Base(u.Path)
}

// fetchChecksum downloads the checksum file at u and returns the digest
// it gives for name; want, when non-zero, is the expected digest length
// in hex digits, used to choose between entries of several algorithms.
func fetchChecksum(ctx context.Context, f *fetcher, u, name string, want int) (string, error) {
	f.log.Debug("downloading checksum file", "url", u)
	var body []byte
	err := f.retry(ctx, u, func(ctx context.Context) (bool, error) {
		var err error
		body, err = f.getSmall(ctx, u, maxChecksumFile)
		return false, err
	})
	if err != nil {
		if ctx.Err() != nil {
			return "", cancelled(ctx, "Download of checksum file %s", u)
		}
		return "", newError(classDownload, err, "Download of checksum file %s failed: %v", u, err)
	}
	sum, err := parseChecksumFile(string(body), name, want)
	if err != nil {
		return "", newError(classDownload, err, "Download of checksum file %s failed: %v", u, err)
	}
	return sum, nil
}

// bsdLine matches a BSD-style checksum line: "SHA256 (name) = hash".
var bsdLine = regexp.MustCompile(`^([A-Za-z0-9-]+) ?\((.*)\) ?= ?([0-9A-Fa-f]+)$`)

// checksumEntry is one line of a checksum file.
type checksumEntry struct {
	name, sum string
}

// parseChecksumFile finds name's digest in the text of a checksum file: a
// file whose only line is a bare digest, or lines in sha*sum format
// ("<hash>  <name>", "<hash> *<name>") or BSD format
// ("SHA256 (<name>) = <hash>"). Entry names match by exact name, then with
// "./" or a directory prefix stripped. want, when non-zero, is the digest
// length to prefer among several entries for the name.
func parseChecksumFile(text, name string, want int) (string, error) {
	var lines []string
	for l := range strings.SplitSeq(text, "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		return "", fmt.Errorf("empty checksum file")
	}
	if len(lines) == 1 && !strings.ContainsAny(lines[0], " \t") {
		return lines[0], nil
	}
	var entries []checksumEntry
	for _, l := range lines {
		if m := bsdLine.FindStringSubmatch(l); m != nil {
			entries = append(entries, checksumEntry{name: m[2], sum: m[3]})
			continue
		}
		sum, rest, ok := strings.Cut(l, " ")
		if !ok {
			sum, rest, ok = strings.Cut(l, "\t")
		}
		if !ok {
			continue
		}
		// GNU marks names with escaped characters by a leading backslash;
		// a leading '*' is the binary-mode marker.
		sum = strings.TrimPrefix(sum, `\`)
		rest = strings.TrimLeft(rest, " \t")
		rest = strings.TrimPrefix(rest, "*")
		entries = append(entries, checksumEntry{name: rest, sum: sum})
	}
	matchers := []func(string) bool{
		func(n string) bool { return n == name },
		func(n string) bool { return strings.TrimPrefix(n, "./") == name },
		func(n string) bool { return path.Base(n) == name },
	}
	for _, match := range matchers {
		var found []string
		for _, e := range entries {
			if match(e.name) {
				found = append(found, e.sum)
			}
		}
		if len(found) == 0 {
			continue
		}
		for _, s := range found {
			if want == 0 || len(s) == want {
				return s, nil
			}
		}
		return found[0], nil
	}
	return "", fmt.Errorf("checksum file does not contain name %s", name)
}
