package config

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/pflag"
)

// layer is where a setting comes from, lowest precedence first.
type layer int

const (
	kernelLayer layer = iota
	ipaFileLayer
	metalagentFileLayer
)

// setting is the value an option gets from a layer.
type setting struct {
	value  string
	source string
	layer  layer
}

// layers collects the settings of every layer below the command line;
// the last one read for an option wins.
type layers struct {
	c     *Config
	final map[*option]setting
}

func kernelSource(param string) string { return "kernel parameter " + param }

// read reads the kernel parameters and the config files and sets every
// option the command line did not set.
func (l *layers) read(fs *pflag.FlagSet) error {
	c := l.c
	onCLI := map[string]bool{}
	fs.Visit(func(f *pflag.Flag) { onCLI[f.Name] = true })

	params, err := ReadCmdline(c.CmdlineFile)
	if err != nil {
		return err
	}
	c.KernelParams = params
	if err := l.readKernel(params); err != nil {
		return err
	}
	paths, err := configPaths(c.ConfigFiles, c.ConfigDirs, onCLI["config-file"], onCLI["config-dir"])
	if err != nil {
		return err
	}
	for _, p := range paths {
		if err := l.readFile(p, ipaFileLayer); err != nil {
			return err
		}
	}
	mpaths, err := configPaths([]string{c.MetalagentConfig}, nil, onCLI["metalagent-config"], false)
	if err != nil {
		return err
	}
	for _, p := range mpaths {
		if err := l.readFile(p, metalagentFileLayer); err != nil {
			return err
		}
	}

	for _, o := range options {
		name := o.flagName()
		if onCLI[name] {
			c.Sources[o.name] = "flag --" + name
			continue
		}
		s, ok := l.final[o]
		if !ok {
			continue
		}
		if err := fs.Set(name, s.value); err != nil {
			return fmt.Errorf("%s: %w", s.source, err)
		}
		c.Sources[o.name] = s.source
	}
	for _, o := range options {
		if src, ok := c.Sources[o.name]; ok && o.status == parsedOnly {
			c.warn(src, o.name, "read but has no effect in this agent version: "+o.reason)
		}
	}
	return nil
}

// readKernel takes the kernel parameters as defaults. A bad value stops
// the agent, as it stops IPA, except for ipa-debug which IPA reads
// leniently (anything but a true word is false).
func (l *layers) readKernel(params map[string]string) error {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := params[k]
		src := kernelSource(k)
		o := optionsByKernel[k]
		if o == nil {
			if strings.HasPrefix(k, "ipa-") || strings.HasPrefix(k, "metalagent-") {
				l.c.warn(src, k, "not a parameter this agent knows; ignored")
			}
			continue
		}
		if err := l.c.values[o].check(v); err != nil {
			if o.name == "debug" {
				l.c.warn(src, o.name, fmt.Sprintf("%v; debug logging stays off, as in IPA", err))
				continue
			}
			return fmt.Errorf("kernel parameter %s: %w", k, err)
		}
		l.final[o] = setting{value: v, source: src, layer: kernelLayer}
	}
	return nil
}

// readFile reads one config file of layer ly. A bad value is an error
// naming the file and line; unknown keys and keys metalagent does not
// use are warnings.
func (l *layers) readFile(path string, ly layer) error {
	settings, err := readINI(path)
	if err != nil {
		return err
	}
	for _, s := range settings {
		o := optionsByKey[s.key]
		name := s.key.name
		if s.key.group != "" {
			name = "[" + s.key.group + "] " + name
		}
		if o == nil {
			l.c.warn(s.pos, name, ignoredReason(s.key))
			continue
		}
		if err := l.c.values[o].check(s.value); err != nil {
			return fmt.Errorf("%s: %s: %w", s.pos, name, err)
		}
		if prev, ok := l.final[o]; ok && o.kernelBeatsIPAFiles && ly == ipaFileLayer && prev.layer == kernelLayer {
			l.c.warn(s.pos, name, fmt.Sprintf("ignored: the %s wins over IPA's config files, as in IPA", prev.source))
			continue
		}
		l.final[o] = setting{value: s.value, source: s.pos, layer: ly}
	}
	return nil
}

// ignoredReason says why a key that is no option of metalagent is
// ignored.
func ignoredReason(k iniKey) string {
	if r, ok := ignoredKeys[k]; ok {
		return "ignored: " + r
	}
	if r, ok := ignoredGroups[k.group]; ok {
		return "ignored: " + r
	}
	return "not an option this agent knows; ignored"
}
