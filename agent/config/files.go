package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/ini.v1"
)

// fileSetting is one key = value read from a config file.
type fileSetting struct {
	key   iniKey
	value string
	// pos is "file:line".
	pos string
}

// iniOptions make gopkg.in/ini.v1 read files as oslo.config does: "#"
// and ";" start a comment only at the beginning of a line, indented lines
// continue a value, "=" or ":" separates key and value, and a key repeated
// in a section keeps its last value.
var iniOptions = ini.LoadOptions{
	IgnoreInlineComment:        true,
	AllowPythonMultilineValues: true,
	KeyValueDelimiters:         "=:",
}

// readINI reads an oslo.config INI file and returns its settings in file
// order. As in oslo.config, [DEFAULT] is matched exactly and other
// section names in any case, and a key before any section is an error.
func readINI(path string) ([]fileSetting, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config file: %w", err)
	}
	lines, err := keyLines(path, data)
	if err != nil {
		return nil, err
	}
	f, err := ini.LoadSources(iniOptions, data)
	if err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	var out []fileSetting
	for _, sec := range f.Sections() {
		group := groupName(sec.Name())
		for _, k := range sec.Keys() {
			key := iniKey{group, k.Name()}
			out = append(out, fileSetting{key: key, value: k.Value(), pos: fmt.Sprintf("%s:%d", path, lines[key])})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return lines[out[i].key] < lines[out[j].key] })
	return out, nil
}

// groupName is the option group of an INI section: "" for [DEFAULT],
// other names in lower case.
func groupName(section string) string {
	if section == ini.DefaultSection {
		return ""
	}
	return strings.ToLower(section)
}

// keyLines finds the line of the last assignment of each key, for error
// messages (the INI library keeps no line numbers), following oslo's line
// rules: blank and indented lines and comments hold no key.
func keyLines(path string, data []byte) (map[iniKey]int, error) {
	lines := map[iniKey]int{}
	group, inSection := "", false
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimRight(line, " \t\r")
		if i == 0 {
			line = strings.TrimPrefix(line, "\uFEFF")
		}
		switch {
		case line == "" || line[0] == ' ' || line[0] == '\t' || line[0] == '#' || line[0] == ';':
		case line[0] == '[':
			group, inSection = groupName(strings.TrimSuffix(line[1:], "]")), true
		default:
			key := line
			if n := strings.IndexAny(line, "=:"); n >= 0 {
				key = line[:n]
			}
			if !inSection {
				return nil, fmt.Errorf("%s:%d: %q comes before any [section]; options belong under [DEFAULT]", path, i+1, strings.TrimSpace(key))
			}
			lines[iniKey{group, strings.TrimSpace(key)}] = i + 1
		}
	}
	return lines, nil
}

// configPaths lists the IPA config files to read, in order: each of
// files, then each directory's *.conf in name order. A missing path is an
// error when it was asked for explicitly, and skipped when it is a
// default.
func configPaths(files, dirs []string, explicitFiles, explicitDirs bool) ([]string, error) {
	var out []string
	for _, f := range files {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			if !explicitFiles && errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("config file: %w", err)
		}
		out = append(out, f)
	}
	for _, d := range dirs {
		if d == "" {
			continue
		}
		if _, err := os.Stat(d); err != nil {
			if !explicitDirs && errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("config dir: %w", err)
		}
		matches, err := filepath.Glob(filepath.Join(d, "*.conf"))
		if err != nil {
			return nil, fmt.Errorf("config dir %s: %w", d, err)
		}
		sort.Strings(matches)
		out = append(out, matches...)
	}
	return out, nil
}
