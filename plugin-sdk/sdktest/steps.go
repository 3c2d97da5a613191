package sdktest

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// finding is a problem before it is attributed to a check.
type finding struct{ rule, msg string }

var stepNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// checkStepList checks the steps of one kind.
func checkStepList(kind sdk.StepKind, steps []sdk.Step) []finding {
	var out []finding
	add := func(rule, format string, a ...any) { out = append(out, finding{rule, fmt.Sprintf(format, a...)}) }
	seen := map[string]int{}
	for i, st := range steps {
		label := fmt.Sprintf("%s step %d (%q)", kind, i, st.Step)
		switch {
		case st.Step == "":
			add("step-name", "%s has an empty name: Ironic cannot ask for it", label)
		case !stepNameRE.MatchString(st.Step):
			add("step-name", "%s: the name must be letters, digits and underscores: IPA dispatches it as a method name and Ironic addresses it as interface.step", label)
		}
		if !slices.Contains(Interfaces, st.Interface) {
			add("step-interface", "%s has interface %q, which is not one of Ironic's (%s): Ironic groups and runs steps by interface", label, st.Interface, strings.Join(Interfaces, ", "))
		}
		if st.Priority < 0 {
			add("step-priority", "%s has priority %d: priorities are 0 (run only on request) or more", label, st.Priority)
		}
		if st.Step != "" {
			if j, dup := seen[st.Step]; dup {
				add("step-unique", "%s has the same name as %s step %d: a manager lists each step once per kind, since Ironic and the host key steps by name", label, kind, j)
			} else {
				seen[st.Step] = i
			}
		}
		args := make([]string, 0, len(st.ArgsInfo))
		for a := range st.ArgsInfo {
			args = append(args, a)
		}
		sort.Strings(args)
		for _, a := range args {
			if strings.TrimSpace(a) == "" {
				add("step-argsinfo", "%s has an argument with an empty name in argsinfo", label)
				continue
			}
			if strings.TrimSpace(st.ArgsInfo[a].Description) == "" {
				add("step-argsinfo", "%s: argsinfo of argument %q has no description: Ironic shows it to operators building deploy templates and manual cleaning", label, a)
			}
		}
	}
	return out
}
