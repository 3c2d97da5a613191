package pluginhost

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"text/tabwriter"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// WritePlugins writes the plugins' state as a table, for the CLI.
func WritePlugins(w io.Writer, infos []PluginInfo) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ORDER\tNAME\tPATH\tVERSION\tPROTOCOL\tLEVEL\tCHECKSUM\tSTATE\tPID\tRESTARTS\tERROR")
	for _, p := range infos {
		path := p.Path
		if p.Builtin {
			path = "(builtin)"
		}
		version := p.Version.Name + " " + p.Version.Version
		if p.Version == (sdk.Version{}) {
			version = "-"
		}
		errText := p.Error
		if errText == "" {
			errText = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%d\t%s\n", dash(p.Order), p.Name, path, version,
			dash(p.Protocol), int(p.Level), p.Checksum, p.State, dash(p.PID), p.Restarts, errText)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write plugin table: %w", err)
	}
	return nil
}

// dash formats n, or "-" for 0.
func dash(n int) string {
	if n == 0 {
		return "-"
	}
	return strconv.Itoa(n)
}

// StepRow is one step of a merged step list with its kind and owner.
type StepRow struct {
	// Kind is the step family.
	Kind sdk.StepKind `json:"kind"`
	// Owner is the manager whose entry won the merge; dispatch asks it
	// first.
	Owner string `json:"owner"`
	sdk.Step
}

// StepRows flattens a merged step list, highest priority first, then by
// name.
func StepRows(kind sdk.StepKind, set StepSet) []StepRow {
	var rows []StepRow
	for owner, steps := range set {
		for _, st := range steps {
			rows = append(rows, StepRow{Kind: kind, Owner: owner, Step: st})
		}
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].Priority != rows[j].Priority {
			return rows[i].Priority > rows[j].Priority
		}
		return rows[i].Step.Step < rows[j].Step.Step
	})
	return rows
}

// WriteSteps writes step rows as a table, for the CLI.
func WriteSteps(w io.Writer, rows []StepRow) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tSTEP\tOWNER\tPRIORITY\tINTERFACE\tREBOOT\tABORTABLE")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%t\t%t\n", r.Kind, r.Step.Step, r.Owner, r.Priority, r.Interface, r.RebootRequested, r.Abortable)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write step table: %w", err)
	}
	return nil
}
