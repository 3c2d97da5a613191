package generic

import (
	"bufio"
	"errors"
	"flag"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// loadFixture copies testdata/name into a temporary directory, turning
// "%3A" in names into ":" and creating the links of its symlinks.txt, and
// returns the copy's root.
func loadFixture(t *testing.T, name string) string {
	t.Helper()
	src := filepath.Join("testdata", name)
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if rel == "symlinks.txt" || strings.HasSuffix(rel, ".json") || d.Name() == ".keep" {
			return nil
		}
		target := filepath.Join(dst, strings.ReplaceAll(rel, "%3A", ":"))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatalf("copy fixture %s: %v", name, err)
	}
	f, err := os.Open(filepath.Join(src, "symlinks.txt"))
	if errors.Is(err, fs.ErrNotExist) {
		return dst
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		link, target, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("%s/symlinks.txt: bad line %q", name, line)
		}
		p := filepath.Join(dst, link)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// fixtureSystem returns a system reading the fixture at root, with the
// given host name and addresses per interface (CIDR notation).
func fixtureSystem(root, hostname string, addrs map[string][]string) system {
	return system{
		sysRoot:  filepath.Join(root, "sys"),
		procRoot: filepath.Join(root, "proc"),
		devRoot:  filepath.Join(root, "dev"),
		runRoot:  filepath.Join(root, "run"),
		openBMC:  openFixtureBMC,
		hostname: func() (string, error) { return hostname, nil },
		machine:  func() (string, error) { return "x86_64", nil },
		addrs: func(ifname string) ([]net.Addr, error) {
			var out []net.Addr
			for _, a := range addrs[ifname] {
				ip, n, err := net.ParseCIDR(a)
				if err != nil {
					return nil, err
				}
				n.IP = ip
				out = append(out, n)
			}
			return out, nil
		},
	}
}

// testLogger discards logs unless the tests run with -v.
func testLogger(t *testing.T) hclog.Logger {
	if testing.Verbose() {
		return hclog.New(&hclog.LoggerOptions{Name: t.Name(), Level: hclog.Debug, Output: os.Stderr})
	}
	return hclog.NewNullLogger()
}
