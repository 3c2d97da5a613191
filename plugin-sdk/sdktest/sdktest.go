package sdktest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// The checks, in the order they run. A check's name is its subtest's name
// and the value of Problem.Check.
const (
	CheckHandshake     = "handshake"
	CheckSupport       = "support"
	CheckVersion       = "version"
	CheckInventory     = "inventory"
	CheckCleanSteps    = "clean-steps"
	CheckDeploySteps   = "deploy-steps"
	CheckServiceSteps  = "service-steps"
	CheckUnknownMethod = "unknown-method"
	CheckSafeSteps     = "safe-steps"
	CheckDeadlines     = "deadlines"
)

// StepsCheck returns the name of the check of kind's steps.
func StepsCheck(kind sdk.StepKind) string { return string(kind) + "-steps" }

// UnknownMethod is the method name the kit executes to see the plugin
// answer "not supported". No plugin may implement it.
const UnknownMethod = "sdktest_no_such_method"

// DefaultDeadline bounds each call when Options.Deadline is zero.
const DefaultDeadline = 5 * time.Second

// DefaultStartTimeout bounds a binary's launch and handshake when
// Options.StartTimeout is zero.
const DefaultStartTimeout = 10 * time.Second

// Interfaces are Ironic's hardware interfaces a step may belong to.
var Interfaces = []string{"deploy", "raid", "bios", "management", "power", "firmware",
	"boot", "console", "inspect", "network", "rescue", "storage", "vendor"}

// DefaultNode is the node sent with Steps and Execute when Options.Node
// is empty: a node with no properties, instance or driver information.
var DefaultNode = json.RawMessage(`{"uuid":"00000000-0000-0000-0000-000000000000","name":"sdktest",` +
	`"properties":{},"instance_info":{},"driver_info":{},"driver_internal_info":{},"extra":{}}`)

// Options tune a run.
type Options struct {
	// HostConfig is sent to EvaluateHardwareSupport, as the host sends the
	// operator's settings. Set AllowedDisks to keep a plugin that lists
	// disks away from the test machine's.
	HostConfig sdk.HostConfig
	// Deadline bounds every call; zero means DefaultDeadline.
	Deadline time.Duration
	// StartTimeout bounds a binary's launch and handshake; zero means
	// DefaultStartTimeout.
	StartTimeout time.Duration
	// Node and Ports are sent with Steps and Execute; empty means
	// DefaultNode and [].
	Node, Ports json.RawMessage
	// ExpectSteps lists, per kind, step names the plugin must list.
	ExpectSteps map[sdk.StepKind][]string
	// SafeSteps are steps and hardware methods harmless to run on the test
	// machine; the kit executes them. The kit executes nothing else.
	SafeSteps []SafeStep
	// VendorKeys are top-level inventory keys allowed besides IPA's and
	// the name the plugin reports from Version.
	VendorKeys []string
	// Skip names checks (CheckInventory, ...) not to run. The kit still
	// calls EvaluateHardwareSupport when CheckSupport is skipped, since
	// plugins initialise there.
	Skip []string
}

// SafeStep is a step or hardware method the vendor declares harmless.
type SafeStep struct {
	// Method is the step or hardware-method name.
	Method string
	// Kind is the step family; empty for a hardware method.
	Kind sdk.StepKind
	// Args is the JSON object of arguments; empty means {}.
	Args json.RawMessage
	// Deadline overrides Options.Deadline for this call.
	Deadline time.Duration
}

func (o Options) withDefaults() Options {
	if o.Deadline <= 0 {
		o.Deadline = DefaultDeadline
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = DefaultStartTimeout
	}
	if len(o.Node) == 0 {
		o.Node = DefaultNode
	}
	if len(o.Ports) == 0 {
		o.Ports = json.RawMessage("[]")
	}
	return o
}

// Problem is one broken rule.
type Problem struct {
	// Check is the check that found it (CheckInventory, ...).
	Check string
	// Rule names the rule broken, as listed in the package documentation.
	Rule string
	// Message explains what the plugin did and why the host needs
	// otherwise.
	Message string
}

// String formats the problem as "check: message [rule r]".
func (p Problem) String() string {
	return fmt.Sprintf("%s: %s [rule %s]", p.Check, p.Message, p.Rule)
}

// CheckResult is the outcome of one check.
type CheckResult struct {
	Name string
	// Skipped is why the check did not run, or "".
	Skipped  string
	Problems []Problem
}

// Call is one call the kit made, timed.
type Call struct {
	// Check is the check that made it.
	Check string
	// Name is the method, with its kind or method name, such as
	// "Steps(clean)" or "Execute(collect_system_logs)".
	Name     string
	Duration time.Duration
	Deadline time.Duration
	// Late is true when the call did not answer within Deadline.
	Late bool
	Err  error
}

// Report is the outcome of a run.
type Report struct {
	// Checks in the order they ran, skipped ones included.
	Checks []CheckResult
	// Calls in the order they were made.
	Calls []Call
	// Level and Version are what the plugin reported.
	Level   sdk.SupportLevel
	Version sdk.Version
	// StartDuration is the binary's launch and handshake time.
	StartDuration time.Duration
	// PluginStderr is the end of the binary's stderr (its log).
	PluginStderr string
}

// Problems returns the problems of every check.
func (r *Report) Problems() []Problem {
	var out []Problem
	for _, c := range r.Checks {
		out = append(out, c.Problems...)
	}
	return out
}

// Failed returns the names of the checks with problems.
func (r *Report) Failed() []string {
	var out []string
	for _, c := range r.Checks {
		if len(c.Problems) > 0 {
			out = append(out, c.Name)
		}
	}
	return out
}

// Slowest returns the call that took longest; false when none was made.
func (r *Report) Slowest() (Call, bool) {
	if len(r.Calls) == 0 {
		return Call{}, false
	}
	slowest := r.Calls[0]
	for _, c := range r.Calls[1:] {
		if c.Duration > slowest.Duration {
			slowest = c
		}
	}
	return slowest, true
}

// Check runs the checks against hm, the host's view of a manager, and
// returns the problems found; none means hm conforms. hm is called
// directly: pass the client Connect returns to cross gRPC.
func Check(ctx context.Context, hm sdk.HardwareManager, opts Options) []Problem {
	return Inspect(ctx, hm, opts).Problems()
}

// Inspect runs the checks against hm like Check and returns the full
// report.
func Inspect(ctx context.Context, hm sdk.HardwareManager, opts Options) *Report {
	r := &runner{ctx: ctx, hm: hm, opts: opts.withDefaults(), report: &Report{}}
	r.run()
	return r.report
}

// Connect serves m over an in-process gRPC connection, as a plugin serves
// it, and returns the host's view of it: errors, inventory and steps cross
// the same encoding as with a plugin executable. The connection closes
// when the test ends.
func Connect(t testing.TB, m sdk.HardwareManager) sdk.HardwareManager {
	t.Helper()
	client, _ := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{sdk.PluginName: &sdk.GRPCPlugin{Impl: m}})
	// Closing the client stops the server too (go-plugin's controller).
	t.Cleanup(func() { client.Close() })
	raw, err := client.Dispense(sdk.PluginName)
	if err != nil {
		t.Fatalf("sdktest: dispense %s: %v", sdk.PluginName, err)
	}
	hm, ok := raw.(sdk.HardwareManager)
	if !ok {
		t.Fatalf("sdktest: dispensed %T, not an sdk.HardwareManager", raw)
	}
	return hm
}

// Run serves m in process over gRPC (see Connect), runs every check as a
// subtest of t and returns the report.
func Run(t *testing.T, m sdk.HardwareManager, opts Options) *Report {
	t.Helper()
	r := Inspect(t.Context(), Connect(t, m), opts)
	r.Subtests(t)
	return r
}

// Subtests reports r through t: one subtest per check, failing with each
// of its problems. It logs the slowest call, and the plugin's stderr when a
// check failed.
func (r *Report) Subtests(t *testing.T) {
	t.Helper()
	for _, c := range r.Checks {
		t.Run(c.Name, func(t *testing.T) {
			if c.Skipped != "" {
				t.Skip(c.Skipped)
			}
			for _, p := range c.Problems {
				t.Error(p.String())
			}
		})
	}
	if s, ok := r.Slowest(); ok {
		t.Logf("slowest call: %s took %v (deadline %v)", s.Name, s.Duration.Round(time.Millisecond), s.Deadline)
	}
	if r.StartDuration > 0 {
		t.Logf("plugin started in %v", r.StartDuration.Round(time.Millisecond))
	}
	if len(r.Failed()) > 0 && r.PluginStderr != "" {
		t.Logf("end of the plugin's stderr:\n%s", r.PluginStderr)
	}
}

// runner runs the checks of one report.
type runner struct {
	ctx    context.Context
	hm     sdk.HardwareManager
	opts   Options
	report *Report
	// cur is the check being run.
	cur *CheckResult
	// steps are the names listed per kind, for the safe-steps check.
	steps map[sdk.StepKind][]string
}

// grace is how long past its deadline the kit waits for a manager called
// directly that ignores its context, before abandoning the call.
const grace = 500 * time.Millisecond

var errAbandoned = errors.New("no answer; call abandoned")

func (r *runner) run() {
	r.steps = map[sdk.StepKind][]string{}
	r.check(CheckSupport, r.checkSupport)
	r.check(CheckVersion, r.checkVersion)
	r.check(CheckInventory, r.checkInventory)
	for _, kind := range []sdk.StepKind{sdk.StepKindClean, sdk.StepKindDeploy, sdk.StepKindService} {
		r.check(StepsCheck(kind), func() { r.checkSteps(kind) })
	}
	r.check(CheckUnknownMethod, r.checkUnknownMethod)
	if len(r.opts.SafeSteps) == 0 {
		r.skip(CheckSafeSteps, "no Options.SafeSteps declared")
	} else {
		r.check(CheckSafeSteps, r.checkSafeSteps)
	}
	r.check(CheckDeadlines, r.checkDeadlines)
}

// check runs fn as the check name unless Options.Skip names it.
func (r *runner) check(name string, fn func()) {
	if slices.Contains(r.opts.Skip, name) {
		if name == CheckSupport {
			// Plugins initialise in EvaluateHardwareSupport: call it anyway.
			r.cur = &CheckResult{Name: name}
			fn()
		}
		r.skip(name, "skipped by Options.Skip")
		return
	}
	r.report.Checks = append(r.report.Checks, CheckResult{Name: name})
	r.cur = &r.report.Checks[len(r.report.Checks)-1]
	fn()
	r.cur = nil
}

func (r *runner) skip(name, why string) {
	r.report.Checks = append(r.report.Checks, CheckResult{Name: name, Skipped: why})
}

// problem records a problem of the current check.
func (r *runner) problem(rule, format string, a ...any) {
	r.cur.Problems = append(r.cur.Problems, Problem{Check: r.cur.Name, Rule: rule, Message: fmt.Sprintf(format, a...)})
}

// call makes one timed call with a deadline of d. A manager that ignores
// its context is abandoned a little after d.
func (r *runner) call(name string, d time.Duration, fn func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(r.ctx, d)
	defer cancel()
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		defer func() {
			if v := recover(); v != nil {
				done <- fmt.Errorf("panic: %v", v)
			}
		}()
		done <- fn(ctx)
	}()
	timer := time.NewTimer(d + grace)
	defer timer.Stop()
	var err error
	select {
	case err = <-done:
	case <-timer.C:
		err = errAbandoned
	}
	dur := time.Since(start)
	late := dur > d || errors.Is(err, errAbandoned) || errors.Is(err, context.DeadlineExceeded) ||
		status.Code(err) == codes.DeadlineExceeded
	r.report.Calls = append(r.report.Calls, Call{Check: r.cur.Name, Name: name, Duration: dur, Deadline: d, Late: late, Err: err})
	if late && err == nil {
		// It answered, but too late for the host: the deadlines check
		// reports it; the answer is still checked.
		return nil
	}
	if late {
		r.problem("answers", "%s did not answer within its %v deadline (%v), so its answer could not be checked", name, d, err)
		return errLate
	}
	return err
}

var errLate = errors.New("late")

// describe names an error's kind and IPA class for messages.
func describe(err error) string {
	s := fmt.Sprintf("%q (%s", err.Error(), sdk.KindOf(err))
	if typ := sdk.TypeOf(err); typ != "" {
		s += ", " + typ
	}
	if st, ok := status.FromError(err); ok && sdk.TypeOf(err) == "" {
		s += ", gRPC " + st.Code().String()
	}
	return s + ")"
}

func (r *runner) checkSupport() {
	var level sdk.SupportLevel
	err := r.call("EvaluateHardwareSupport", r.opts.Deadline, func(ctx context.Context) (err error) {
		level, err = r.hm.EvaluateHardwareSupport(ctx, r.opts.HostConfig)
		return err
	})
	if errors.Is(err, errLate) {
		return
	}
	if err != nil {
		r.problem("answers", "EvaluateHardwareSupport answered the error %s: the host does not use a plugin whose evaluation fails; report SupportNone on hardware you do not support", describe(err))
		return
	}
	r.report.Level = level
	if level < sdk.SupportNone {
		r.problem("support-level", "EvaluateHardwareSupport answered level %d: support levels are 0 (none) or more", level)
	}
}

func (r *runner) checkVersion() {
	var v sdk.Version
	err := r.call("Version", r.opts.Deadline, func(ctx context.Context) (err error) {
		v, err = r.hm.Version(ctx)
		return err
	})
	if errors.Is(err, errLate) {
		return
	}
	if err != nil {
		r.problem("answers", "Version answered the error %s: the host does not use a plugin without a version", describe(err))
		return
	}
	r.report.Version = v
	if strings.TrimSpace(v.Name) == "" {
		r.problem("version-name", "Version reported an empty name: Ironic records {name: version} of every manager as hardware_manager_version and sends it back with every step")
	}
	if strings.TrimSpace(v.Version) == "" {
		r.problem("version-version", "Version of %q reported an empty version: Ironic compares it with every step it sends back", v.Name)
	}
}

// inventoryJSON is what the host's client of a plugin offers besides
// sdk.HardwareManager: the inventory as the plugin sent it.
type inventoryJSON interface {
	InventoryJSON(ctx context.Context) (json.RawMessage, error)
}

func (r *runner) checkInventory() {
	var raw json.RawMessage
	err := r.call("Inventory", r.opts.Deadline, func(ctx context.Context) error {
		if ij, ok := r.hm.(inventoryJSON); ok {
			b, err := ij.InventoryJSON(ctx)
			raw = b
			return err
		}
		inv, err := r.hm.Inventory(ctx)
		if err != nil {
			return err
		}
		if inv == nil {
			inv = &sdk.Inventory{}
		}
		raw, err = json.Marshal(inv)
		return err
	})
	if errors.Is(err, errLate) {
		return
	}
	if err != nil {
		r.problem("answers", "Inventory answered the error %s: the host fails the whole inventory (lookup, inspection) when one manager's fails; leave out the components you cannot read instead", describe(err))
		return
	}
	names := slices.Clone(r.opts.VendorKeys)
	if r.report.Version.Name != "" {
		names = append(names, r.report.Version.Name)
	}
	for _, p := range checkInventoryJSON(raw, names) {
		r.problem(p.rule, "%s", p.msg)
	}
}

func (r *runner) checkSteps(kind sdk.StepKind) {
	var steps []sdk.Step
	name := fmt.Sprintf("Steps(%s)", kind)
	err := r.call(name, r.opts.Deadline, func(ctx context.Context) (err error) {
		steps, err = r.hm.Steps(ctx, sdk.StepsRequest{Kind: kind, Node: r.opts.Node, Ports: r.opts.Ports})
		return err
	})
	if errors.Is(err, errLate) {
		return
	}
	if err != nil && !errors.Is(err, sdk.ErrNotSupported) {
		r.problem("answers", "%s answered the error %s: the host fails get_%s_steps for every manager when one errs; answer an empty list (or sdk.NotSupported) when you have no %s steps", name, describe(err), kind, kind)
		return
	}
	for _, p := range checkStepList(kind, steps) {
		r.problem(p.rule, "%s", p.msg)
	}
	listed := make([]string, 0, len(steps))
	for _, st := range steps {
		listed = append(listed, st.Step)
	}
	r.steps[kind] = listed
	for _, want := range r.opts.ExpectSteps[kind] {
		if !slices.Contains(listed, want) {
			r.problem("step-expected", "%s step %q is expected (Options.ExpectSteps) but not listed; listed: %q", kind, want, listed)
		}
	}
}

func (r *runner) checkUnknownMethod() {
	// Answers per kind, grouped so that one wrong answer to all four
	// questions is one problem.
	var order []string
	asked := map[string][]string{}
	for _, kind := range []sdk.StepKind{"", sdk.StepKindClean, sdk.StepKindDeploy, sdk.StepKindService} {
		what := "hardware method"
		if kind != "" {
			what = string(kind) + " step"
		}
		name := fmt.Sprintf("Execute(%s as %s)", UnknownMethod, what)
		var res json.RawMessage
		err := r.call(name, r.opts.Deadline, func(ctx context.Context) (err error) {
			res, err = r.hm.Execute(ctx, sdk.ExecuteRequest{Method: UnknownMethod, Kind: kind,
				Args: json.RawMessage("{}"), Node: r.opts.Node, Ports: r.opts.Ports})
			return err
		})
		var answer string
		switch {
		case errors.Is(err, errLate) || errors.Is(err, sdk.ErrNotSupported):
			continue
		case err == nil:
			answer = fmt.Sprintf("the result %s instead of sdk.ErrNotSupported: the host asks managers in order and stops at the first answer that is not \"not supported\", so this plugin would hide every lower manager's steps and methods", truncate(string(res), 200))
		default:
			answer = fmt.Sprintf("the error %s instead of sdk.ErrNotSupported: the host asks managers in order and stops at the first answer that is not \"not supported\", so it would report this error instead of asking the next manager", describe(err))
		}
		if _, ok := asked[answer]; !ok {
			order = append(order, answer)
		}
		asked[answer] = append(asked[answer], what)
	}
	for _, answer := range order {
		r.problem("not-supported", "Execute of the unknown name %q (as %s) answered %s; answer sdk.NotSupported(...) for names you do not implement",
			UnknownMethod, strings.Join(asked[answer], ", "), answer)
	}
}

func (r *runner) checkSafeSteps() {
	for _, s := range r.opts.SafeSteps {
		what := "hardware method " + s.Method
		if s.Kind != "" {
			what = fmt.Sprintf("%s step %s", s.Kind, s.Method)
			if listed, ok := r.steps[s.Kind]; ok && !slices.Contains(listed, s.Method) {
				r.problem("safe-step-listed", "safe %s is not among the %s steps the plugin lists (%q): Ironic only runs listed steps", what, s.Kind, listed)
			}
		}
		d := s.Deadline
		if d <= 0 {
			d = r.opts.Deadline
		}
		args := s.Args
		if len(args) == 0 {
			args = json.RawMessage("{}")
		}
		var res json.RawMessage
		err := r.call(fmt.Sprintf("Execute(%s)", s.Method), d, func(ctx context.Context) (err error) {
			res, err = r.hm.Execute(ctx, sdk.ExecuteRequest{Method: s.Method, Kind: s.Kind, Args: args, Node: r.opts.Node, Ports: r.opts.Ports})
			return err
		})
		if errors.Is(err, errLate) {
			continue
		}
		if err != nil {
			r.problem("answers", "safe %s answered the error %s", what, describe(err))
			continue
		}
		if len(res) > 0 && !json.Valid(res) {
			r.problem("safe-step-json", "safe %s answered %q, which is not JSON: the host passes the result to Ironic as JSON", what, truncate(string(res), 200))
		}
	}
}

func (r *runner) checkDeadlines() {
	for _, c := range r.report.Calls {
		if c.Late {
			r.problem("deadline", "%s (%s check) took %v, past its %v deadline: the host cancels each call at its deadline and reports the plugin as not answering; honour ctx and answer in time",
				c.Name, c.Check, c.Duration.Round(time.Millisecond), c.Deadline)
		}
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
