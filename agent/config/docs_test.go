package config

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/metalagent/metalagent/agent/internal/repotest"
)

var backticked = regexp.MustCompile("`([^`]*)`")

// TestCompatibilityTable keeps the option table of
// docs/ipa-compatibility.md true: one row per option with its kernel
// parameter, default, flag and status, every option present, and every
// test it cites existing.
func TestCompatibilityTable(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "ipa-compatibility.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	start := strings.Index(doc, "### The options")
	end := strings.Index(doc, "\n## Commands")
	if start < 0 || end < start {
		t.Fatal(`docs/ipa-compatibility.md: no "### The options" section before "## Commands"`)
	}
	tests, _ := repotest.Names(t, filepath.Join("..", ".."))
	rows := map[*option]int{}
	for _, line := range strings.Split(doc[start:end], "\n") {
		if !strings.HasPrefix(line, "| `") && !strings.HasPrefix(line, "| –") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		if len(cells) != 6 {
			t.Errorf("row %q: %d cells, want 6", line, len(cells))
			continue
		}
		kernel, opt, def, flag, status, proof := cells[0], cells[1], cells[2], cells[3], cells[4], cells[5]
		name := backticked.FindStringSubmatch(opt)
		if name == nil {
			t.Errorf("row %q: no option name", line)
			continue
		}
		for _, m := range backticked.FindAllStringSubmatch(proof, -1) {
			if !tests[m[1]] {
				t.Errorf("%s: cites %s, which is no test of the repository", name[1], m[1])
			}
		}
		o := optionByTableName(name[1])
		if o == nil {
			if _, ok := ignoredKeys[iniKey{"", name[1]}]; !ok || !strings.HasPrefix(status, "not applicable") {
				t.Errorf("%s: no such option, and not a known not-applicable one", name[1])
			}
			continue
		}
		rows[o]++
		wantKernel := "–"
		if o.kernel != "" {
			wantKernel = "`" + o.kernel + "`"
		}
		if kernel != wantKernel {
			t.Errorf("%s: kernel parameter %s, want %s", o.name, kernel, wantKernel)
		}
		if flag != "`--"+o.flagName()+"`" {
			t.Errorf("%s: flag %s, want --%s", o.name, flag, o.flagName())
		}
		if o.newer != strings.Contains(opt, "[N]") {
			t.Errorf("%s: [N] mark %v, newer %v", o.name, !o.newer, o.newer)
		}
		switch o.status {
		case implemented:
			if !strings.HasPrefix(status, "implemented") {
				t.Errorf("%s: status %q, want implemented", o.name, status)
			}
		case parsedOnly:
			if status != "parsed-only: "+o.reason {
				t.Errorf("%s: status %q, want parsed-only: %s", o.name, status, o.reason)
			}
		}
		if o.commandLineOnly || o.name == "listen_host" {
			continue // machine-dependent or listed by path
		}
		wantDef := "none"
		if v := o.bind(&Config{}).String(); v != "" { // bind holds the default
			wantDef = "`" + v + "`"
		}
		if def != wantDef {
			t.Errorf("%s: default %s, want %s", o.name, def, wantDef)
		}
	}
	for _, o := range options {
		if rows[o] != 1 {
			t.Errorf("option %s has %d rows in docs/ipa-compatibility.md, want 1", o.name, rows[o])
		}
	}
}
