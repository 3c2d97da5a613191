package config

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ipaOption is a row of testdata/ipa-options.tsv.
type ipaOption struct{ name, kernel, def, series string }

func readIPAOptions(t *testing.T) []ipaOption {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "ipa-options.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []ipaOption
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		c := strings.Split(line, "\t")
		if len(c) != 4 {
			t.Fatalf("ipa-options.tsv: %q: want 4 tab-separated columns", line)
		}
		out = append(out, ipaOption{c[0], c[1], c[2], c[3]})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// optionByTableName finds an option by the name the tables use:
// "[group] name" outside [DEFAULT].
func optionByTableName(name string) *option {
	for _, o := range options {
		if tableName(o) == name {
			return o
		}
	}
	return nil
}

func tableName(o *option) string {
	if o.group != "" {
		return "[" + o.group + "] " + o.name
	}
	return o.name
}

// TestDefaultsAreIPAs checks every option of IPA's list against the
// option table: same kernel parameter, same default, and the value the
// agent ends up with when nothing is set; and that every option that is
// not metalagent's own is on IPA's list.
func TestDefaultsAreIPAs(t *testing.T) {
	c, err := Parse("t", isolated(t, "", "--standalone"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[*option]bool{}
	for _, ipa := range readIPAOptions(t) {
		t.Run(ipa.name, func(t *testing.T) {
			o := optionByTableName(ipa.name)
			if ipa.series == "n/a" {
				if o != nil {
					t.Errorf("marked n/a but metalagent has the option")
				}
				if _, ok := ignoredKeys[iniKey{"", ipa.name}]; !ok {
					t.Errorf("n/a option missing from ignoredKeys: it would be warned about as unknown")
				}
				return
			}
			if o == nil {
				t.Fatalf("IPA option %s has no metalagent option", ipa.name)
			}
			seen[o] = true
			wantKernel := ipa.kernel
			if wantKernel == "-" {
				wantKernel = ""
			}
			if o.kernel != wantKernel {
				t.Errorf("kernel parameter %q, IPA's %q", o.kernel, ipa.kernel)
			}
			if o.newer != (ipa.series == "N") {
				t.Errorf("newer = %v, IPA series %s", o.newer, ipa.series)
			}
			want := ipa.def
			v := c.values[o]
			switch want {
			case "none":
				want = ""
				if v.Type() == "bool" {
					want = "false"
				}
			case "wildcard":
				want = wildcardAddress(ipv6DisabledFile)
			}
			if got := v.String(); got != want {
				t.Errorf("default %q, IPA's %q", got, want)
			}
			if _, set := c.Sources[o.name]; set {
				t.Errorf("marked as set (%s) with nothing given", c.Sources[o.name])
			}
		})
	}
	for _, o := range options {
		if !o.metalagent && !o.commandLineOnly && !seen[o] {
			t.Errorf("option %s is not metalagent's own and not on IPA's list", o.name)
		}
		if o.commandLineOnly && o.kernel != "" {
			t.Errorf("option %s is command-line only but has kernel parameter %s", o.name, o.kernel)
		}
	}
}

func TestWildcardAddress(t *testing.T) {
	dir := t.TempDir()
	tests := []struct{ name, content, want string }{
		{"IPv6 enabled", "0\n", "::"},
		{"IPv6 disabled", "1\n", "0.0.0.0"},
		{"no IPv6 in the kernel", "", "0.0.0.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, "missing")
			if tt.content != "" {
				p = writeFile(t, dir, tt.name, tt.content)
			}
			if got := wildcardAddress(p); got != tt.want {
				t.Errorf("wildcardAddress = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestHelpSaysWhereAndWhether: every flag's help names its kernel
// parameter and file key, and says so when the option has no effect.
func TestHelpSaysWhereAndWhether(t *testing.T) {
	for _, o := range options {
		u := o.fullUsage()
		if o.kernel != "" && !strings.Contains(u, "kernel: "+o.kernel) {
			t.Errorf("--%s: help %q does not name %s", o.flagName(), u, o.kernel)
		}
		if o.inFiles() && !strings.Contains(u, "file: "+tableName(o)) {
			t.Errorf("--%s: help %q does not name its file key", o.flagName(), u)
		}
		if noEffect := strings.Contains(u, "no effect"); noEffect != (o.status == parsedOnly) {
			t.Errorf("--%s: help %q: says no effect %v, status parsed-only %v", o.flagName(), u, noEffect, o.status == parsedOnly)
		}
		if o.status == parsedOnly && o.reason == "" {
			t.Errorf("--%s: parsed-only without a reason", o.flagName())
		}
	}
}
