package commands

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/metalagent/metalagent/agent/internal/repotest"
)

// ipaCommand is a row of testdata/ipa-commands.tsv.
type ipaCommand struct {
	name   string
	async  bool
	series string // 9.4, 9.4-only or N
}

func readIPACommands(t *testing.T) map[string]ipaCommand {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "ipa-commands.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]ipaCommand{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		c := strings.Split(line, "\t")
		if len(c) != 3 || (c[1] != "sync" && c[1] != "async") {
			t.Fatalf("ipa-commands.tsv: %q: want name, sync|async, series", line)
		}
		out[c[0]] = ipaCommand{c[0], c[1] == "async", c[2]}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// registered returns every registered command of a full agent.
func registered(t *testing.T) map[string]Command {
	t.Helper()
	ta := newTestAgent(t, agentOptions{})
	out := map[string]Command{}
	for _, n := range ta.r.Names() {
		cmd, err := ta.r.lookup(n)
		if err != nil {
			t.Fatal(err)
		}
		out[n] = cmd
	}
	return out
}

// TestRegisteredCommandsAreIPAs: the agent registers exactly IPA's
// commands (IPA 9.4's and newer IPA's), each sync or async as in IPA.
func TestRegisteredCommandsAreIPAs(t *testing.T) {
	ipa := readIPACommands(t)
	reg := registered(t)
	var want, got []string
	for n := range ipa {
		want = append(want, n)
	}
	for n := range reg {
		got = append(got, n)
	}
	sort.Strings(want)
	sort.Strings(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("registered commands (-IPA's +ours):\n%s", diff)
	}
	for n, c := range ipa {
		if r, ok := reg[n]; ok && r.Async != c.async {
			t.Errorf("%s: async %v, IPA's %v", n, r.Async, c.async)
		}
	}
}

var backtickRe = regexp.MustCompile("`([^`]*)`")

// TestCommandsTable keeps docs/ipa-compatibility.md's Commands table
// true: one row per registered command, sync or async as registered, its
// IPA versions as in testdata/ipa-commands.tsv, a status of
// implemented, partially implemented or not implemented, and every test
// (`TestX`) and rig phase (`rig:NAME`) it cites existing.
func TestCommandsTable(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "ipa-compatibility.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	start := strings.Index(doc, "\n## Commands")
	if start < 0 {
		t.Fatal(`docs/ipa-compatibility.md has no "## Commands" section`)
	}
	section := doc[start+1:]
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	ipa := readIPACommands(t)
	reg := registered(t)
	tests, phases := repotest.Names(t, filepath.Join("..", ".."))
	rows := map[string]int{}
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		if len(cells) != 5 {
			t.Errorf("row %q: %d cells, want 5", line, len(cells))
			continue
		}
		m := backtickRe.FindStringSubmatch(cells[0])
		name := m[1]
		rows[name]++
		cmd, ok := reg[name]
		if !ok {
			t.Errorf("%s: in the table, not registered", name)
			continue
		}
		if want := map[bool]string{true: "async", false: "sync"}[cmd.Async]; cells[1] != want {
			t.Errorf("%s: %s in the table, registered %s", name, cells[1], want)
		}
		switch series := ipa[name].series; {
		case (series == "N") != strings.Contains(cells[2], "[N]"):
			t.Errorf("%s: versions %q, IPA series %s ([N] marks newer IPA only)", name, cells[2], series)
		case (series == "9.4-only") != strings.Contains(cells[2], "removed"):
			t.Errorf("%s: versions %q, IPA series %s (say when it was removed)", name, cells[2], series)
		}
		status := cells[3]
		if !strings.HasPrefix(status, "implemented") && !strings.HasPrefix(status, "partially implemented: ") && !strings.HasPrefix(status, "not implemented: ") {
			t.Errorf("%s: status %q: want implemented, partially implemented: ..., or not implemented: ...", name, status)
		}
		proofs := backtickRe.FindAllStringSubmatch(cells[4], -1)
		if len(proofs) == 0 {
			t.Errorf("%s: no test or rig phase cited", name)
		}
		for _, p := range proofs {
			switch phase, isPhase := strings.CutPrefix(p[1], "rig:"); {
			case isPhase && !phases[phase]:
				t.Errorf("%s: cites rig phase %s, which the rig does not run", name, phase)
			case !isPhase && !tests[p[1]]:
				t.Errorf("%s: cites %s, which is no test of the repository", name, p[1])
			}
		}
	}
	for name := range reg {
		if rows[name] != 1 {
			t.Errorf("command %s has %d rows in the Commands table, want 1", name, rows[name])
		}
	}
}
