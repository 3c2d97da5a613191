package pluginhost

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// ManifestFile is the name of the manifest in a plugin directory.
const ManifestFile = "manifest.json"

// Manifest lists the plugins of one directory and their checksums. When a
// directory has one, only the files it lists are launched, each only if its
// sha256 matches. See docs/plugin-runtime.md.
type Manifest struct {
	// Plugins are the directory's plugins.
	Plugins []ManifestEntry `json:"plugins"`
}

// ManifestEntry is one plugin of a manifest.
type ManifestEntry struct {
	// Name is the manager's name in logs, step lists and the CLI.
	Name string `json:"name"`
	// File is the executable's file name within the directory.
	File string `json:"file"`
	// SHA256 is the lower-case hex sha256 of the executable.
	SHA256 string `json:"sha256"`
	// ProtocolVersion is the hardware-manager protocol the plugin speaks.
	ProtocolVersion int `json:"protocol_version"`
}

// ParseManifest decodes and validates a manifest. Unknown keys are an
// error, so that a misspelt key never silently weakens verification.
func ParseManifest(b []byte) (*Manifest, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	m := &Manifest{}
	if err := dec.Decode(m); err != nil {
		return nil, fmt.Errorf("decode manifest: %w", err)
	}
	if dec.More() {
		return nil, errors.New("decode manifest: trailing data after the JSON object")
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return m, nil
}

// Validate checks every entry: a name, a plain file name, a 64-digit hex
// sha256 and a positive protocol version; names and files unique.
func (m *Manifest) Validate() error {
	names, files := map[string]bool{}, map[string]bool{}
	for i, e := range m.Plugins {
		where := fmt.Sprintf("manifest entry %d (%q)", i+1, e.Name)
		switch {
		case e.Name == "":
			return fmt.Errorf("%s: no name", where)
		case e.File == "" || e.File != filepath.Base(e.File) || e.File == "." || e.File == "..":
			return fmt.Errorf("%s: file %q must be a file name within the directory", where, e.File)
		case e.File == ManifestFile:
			return fmt.Errorf("%s: the manifest cannot list itself", where)
		case !isSHA256Hex(e.SHA256):
			return fmt.Errorf("%s: sha256 %q is not 64 lower-case hex digits", where, e.SHA256)
		case e.ProtocolVersion <= 0:
			return fmt.Errorf("%s: protocol_version %d must be positive", where, e.ProtocolVersion)
		case names[e.Name]:
			return fmt.Errorf("%s: name listed twice", where)
		case files[e.File]:
			return fmt.Errorf("%s: file %q listed twice", where, e.File)
		}
		names[e.Name], files[e.File] = true, true
	}
	return nil
}

func isSHA256Hex(s string) bool {
	if len(s) != 2*sha256.Size || strings.ToLower(s) != s {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// ReadManifest reads dir's manifest. A directory without one gives an error
// matching os.ErrNotExist.
func ReadManifest(dir string) (*Manifest, error) {
	p := filepath.Join(dir, ManifestFile)
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("read plugin manifest: %w", err)
	}
	m, err := ParseManifest(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return m, nil
}

// BuildManifest describes every executable regular file of dir (except the
// manifest itself), named after its file, with its sha256 and the protocol
// version of this SDK, for ramdisk builders.
func BuildManifest(dir string) (*Manifest, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read plugin directory: %w", err)
	}
	m := &Manifest{Plugins: []ManifestEntry{}}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if e.Name() == ManifestFile || !isExecutableFile(p) {
			continue
		}
		sum, err := FileSHA256(p)
		if err != nil {
			return nil, err
		}
		m.Plugins = append(m.Plugins, ManifestEntry{Name: e.Name(), File: e.Name(), SHA256: sum, ProtocolVersion: sdk.ProtocolVersion})
	}
	sort.Slice(m.Plugins, func(i, j int) bool { return m.Plugins[i].File < m.Plugins[j].File })
	return m, nil
}

// WriteManifest writes m as dir's manifest, atomically (a temporary file
// renamed into place).
func WriteManifest(dir string, m *Manifest) error {
	if err := m.Validate(); err != nil {
		return err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+ManifestFile+".*")
	if err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("write manifest: %w", err)
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return fmt.Errorf("write manifest: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	if err := os.Rename(f.Name(), filepath.Join(dir, ManifestFile)); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	return nil
}

// FileSHA256 returns the lower-case hex sha256 of a file.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("checksum: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("checksum %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// isExecutableFile reports whether p is a regular file (after symlinks)
// with an execute bit.
func isExecutableFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}
