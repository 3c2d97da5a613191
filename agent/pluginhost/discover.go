package pluginhost

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/hashicorp/go-hclog"
)

// candidate is an executable found in a plugin directory.
type candidate struct {
	name string
	path string
	// sha256 is the checksum the manifest expects; nil without a manifest.
	sha256 []byte
	// protocol is the manifest's protocol version; 0 without a manifest.
	protocol int
	// verdict is the checksum verdict before launch.
	verdict Checksum
	// err, when set, keeps the file from being launched; state says how.
	err   error
	state State
}

// discover lists the plugins of dirs, in directory order, sorted by file
// name within each. A directory with a manifest contributes the files it
// lists (an unlisted executable is refused, a listed file that is missing
// is a failure); a directory without one contributes every executable
// regular file, unverified, or refuses them all when requireManifest is
// set. A missing directory is logged, not an error.
func discover(dirs []string, supported []int, requireManifest bool, log hclog.Logger) ([]candidate, error) {
	var out []candidate
	seen := map[string]bool{}
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if errors.Is(err, os.ErrNotExist) {
			log.Warn("plugin directory does not exist", "dir", dir)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read plugin directory: %w", err)
		}
		man, err := ReadManifest(dir)
		switch {
		case err == nil:
			out = append(out, fromManifest(dir, man, entries, supported, seen, log)...)
		case errors.Is(err, os.ErrNotExist):
			out = append(out, withoutManifest(dir, entries, requireManifest, seen, log)...)
		default:
			// Fail closed: a broken manifest never falls back to running
			// unverified files.
			log.Error("plugin manifest is invalid; no plugin of this directory is launched", "dir", dir, "error", err)
			out = append(out, candidate{name: ManifestFile, path: filepath.Join(dir, ManifestFile), verdict: ChecksumUnchecked,
				err: fmt.Errorf("invalid manifest, no plugin of %s launched: %w", dir, err), state: StateRefused})
		}
	}
	return out, nil
}

// fromManifest returns the candidates of a directory with a manifest.
func fromManifest(dir string, man *Manifest, entries []os.DirEntry, supported []int, seen map[string]bool, log hclog.Logger) []candidate {
	var out []candidate
	manPath := filepath.Join(dir, ManifestFile)
	listed := map[string]bool{}
	plugins := slices.Clone(man.Plugins)
	sort.Slice(plugins, func(i, j int) bool { return plugins[i].File < plugins[j].File })
	for _, e := range plugins {
		listed[e.File] = true
		p := filepath.Join(dir, e.File)
		if seen[e.Name] {
			log.Warn("plugin name already taken by an earlier directory; skipping", "plugin", e.Name, "path", p)
			continue
		}
		seen[e.Name] = true
		c := candidate{name: e.Name, path: p, protocol: e.ProtocolVersion, verdict: ChecksumUnchecked}
		fi, err := os.Stat(p)
		switch {
		case err != nil:
			c.err, c.state = fmt.Errorf("plugin %s is listed in %s but missing: %w", e.Name, manPath, err), StateFailed
		case !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0:
			c.err, c.state = fmt.Errorf("plugin %s is listed in %s but %s is not an executable file", e.Name, manPath, p), StateFailed
		case !slices.Contains(supported, e.ProtocolVersion):
			c.err = fmt.Errorf("plugin %s: %s gives protocol version %d; this host supports %v", e.Name, manPath, e.ProtocolVersion, supported)
			c.state = StateRefused
		default:
			c.sha256, _ = hex.DecodeString(e.SHA256) // validated by ParseManifest
		}
		out = append(out, c)
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if listed[e.Name()] || e.Name() == ManifestFile || !isExecutableFile(p) {
			continue
		}
		log.Warn("plugin not in manifest; not launched", "path", p, "manifest", manPath)
		out = append(out, candidate{name: e.Name(), path: p, verdict: ChecksumUnchecked,
			err: fmt.Errorf("%s is not in manifest %s", p, manPath), state: StateRefused})
	}
	return out
}

// withoutManifest returns the candidates of a directory without a manifest.
func withoutManifest(dir string, entries []os.DirEntry, requireManifest bool, seen map[string]bool, log hclog.Logger) []candidate {
	var out []candidate
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if fi.Mode().Perm()&0o111 == 0 {
			log.Debug("skipping non-executable file in plugin directory", "path", p)
			continue
		}
		if seen[e.Name()] {
			log.Warn("plugin name already taken by an earlier directory; skipping", "path", p)
			continue
		}
		seen[e.Name()] = true
		c := candidate{name: e.Name(), path: p, verdict: ChecksumNotVerified}
		if requireManifest {
			c.verdict = ChecksumUnchecked
			c.err = fmt.Errorf("%s has no %s and a manifest is required (--require-plugin-manifest)", dir, ManifestFile)
			c.state = StateRefused
		}
		out = append(out, c)
	}
	switch {
	case len(out) == 0:
	case requireManifest:
		log.Error("plugin directory has no manifest and a manifest is required; none of its plugins is launched", "dir", dir, "files", len(out))
	default:
		log.Warn("plugin directory has no manifest; plugin checksums are not verified", "dir", dir, "files", len(out))
	}
	return out
}
