//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The manual-cleaning phases run while the node is manageable, between
// manage and provide. Each requests clean steps by name (PUT
// /v1/nodes/{node}/states/provision {"target": "clean", "clean_steps":
// [...]}); the conductor boots the node (the rig starts a fresh agent),
// fetches the agent's clean steps on its first heartbeat, runs the
// requested ones and returns the node to manageable.

// unknownStep is a clean step no hardware manager offers.
var unknownStep = cleanStep{Interface: "deploy", Step: "metalagent_e2e_no_such_step"}

// manualCleanRound is a boot for manual cleaning that must return the
// node to manageable.
func manualCleanRound(name string) round {
	return round{name: name, wait: stateCleanWait, busy: stateCleaning, done: stateManageable, fail: stateCleanFailed}
}

// manualClean requests manual cleaning with steps and runs one boot
// (rd) for it. It returns the boot and the node as Ironic has it at the
// end. When the node fails cleaning instead, the error says which of the
// requested steps the agent did not offer, if that is why.
func (r *rig) manualClean(ctx context.Context, rd round, steps []cleanStep) (*agentBoot, *node, error) {
	logf("manual cleaning with steps %v", steps)
	if err := r.api.manualClean(ctx, r.node, steps); err != nil {
		return nil, nil, err
	}
	boot, err := r.agentRound(ctx, rd)
	if err != nil {
		return nil, nil, r.explainCleanFailure(err, steps)
	}
	n, err := r.api.getNode(ctx, r.node)
	if err != nil {
		return boot, nil, err
	}
	logf("agent commands of boot %q in order: %s", rd.name, strings.Join(loggedCommands(boot.logPath), ", "))
	return boot, n, nil
}

// explainCleanFailure adds to a failed manual cleaning which requested
// steps the agent did not offer in its last clean.get_clean_steps answer,
// as the conductor logged it (the node's own cache of the steps is wiped
// when cleaning fails).
func (r *rig) explainCleanFailure(err error, steps []cleanStep) error {
	offered := offeredCleanSteps(r.ironic.logPath, r.node)
	if len(offered) == 0 {
		return err
	}
	var missing []string
	for _, s := range steps {
		if !slices.Contains(offered, s.String()) {
			missing = append(missing, s.String())
		}
	}
	if len(missing) == 0 {
		return err
	}
	return fmt.Errorf("%w\nthe agent does not offer the requested clean step(s) %v; its last clean.get_clean_steps offered %v",
		err, missing, offered)
}

// refreshedStepsRe matches the conductor's debug line with the clean
// steps it cached from an agent's clean.get_clean_steps answer.
var refreshedStepsRe = regexp.MustCompile(`Refreshed agent clean step cache for node (\S+): (.*)`)

// cachedStepRe matches one step of that line's Python rendering.
var cachedStepRe = regexp.MustCompile(`'step': '([^']+)', 'priority': -?\d+, 'interface': '([^']+)'`)

// offeredCleanSteps lists, as interface.step and sorted, the clean steps
// of the node's agent from the last step cache refresh in Ironic's log.
func offeredCleanSteps(ironicLog, nodeUUID string) []string {
	data, err := os.ReadFile(ironicLog)
	if err != nil {
		return nil
	}
	var last string
	for _, line := range strings.Split(string(data), "\n") {
		if m := refreshedStepsRe.FindStringSubmatch(line); m != nil && strings.TrimSuffix(m[1], ":") == nodeUUID {
			last = m[2]
		}
	}
	var out []string
	for _, m := range cachedStepRe.FindAllStringSubmatch(last, -1) {
		out = append(out, m[2]+"."+m[1])
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// cleanErase runs IPA's erase_devices through manual cleaning: the
// agent's builtin step dispatches the generic plugin's erase_block_device
// for the loop disk, which overwrites it with Ironic's passes.
func (r *rig) cleanErase(ctx context.Context) error {
	steps := []cleanStep{{Interface: "deploy", Step: "erase_devices"}}
	boot, n, err := r.manualClean(ctx, manualCleanRound("clean-erase"), steps)
	if err != nil {
		return err
	}
	err = runChecks(ctx, []check{
		{"Ironic's node is manageable with no last_error", noLastError(n)},
		{fmt.Sprintf("the conductor passed its erase options in driver_internal_info (agent_erase_devices_iterations=%d, agent_erase_devices_zeroize=true)", shredRandomPasses),
			eraseOptionsCheck(n)},
		{"the whole disk reads back as zeros (canary, GPT headers and ext4 superblocks gone)", r.wholeDiskZero},
		{"libblkid finds no signature on the disk", r.blkidClean},
		{fmt.Sprintf("the agent log shows erase_block_device on the disk with %d random pass(es) and a zero pass", shredRandomPasses),
			r.overwritePassesCheck(boot)},
		{"the agent ran only the requested step", stepsRanCheck(boot, "erase_devices")},
		{"the build machine's own pstore is unchanged", r.hostPstoreUnchanged},
	})
	if figures := overwriteFigures(boot.logPath, r.disk.dev); figures != "" {
		logf("FIGURE clean-erase disk_mib=%d %s", diskSize/mib, figures)
	}
	return err
}

// cleanExpress runs erase_devices_express and erase_pstore through manual
// cleaning. The boot is held until the rig has read the agent's pstore
// (through /proc/PID/root) and then powered off.
func (r *rig) cleanExpress(ctx context.Context) error {
	if err := r.disk.restoreLayout(ctx); err != nil {
		return err
	}
	steps := []cleanStep{{Interface: "deploy", Step: "erase_devices_express"}, {Interface: "deploy", Step: "erase_pstore"}}
	rd := manualCleanRound("clean-express")
	rd.hold, rd.holdIn = true, []string{stateCleaning}
	boot, n, err := r.manualClean(ctx, rd, steps)
	if err != nil {
		return err
	}
	defer boot.powerOff("clean-express checked: simulated power-off")
	return runChecks(ctx, []check{
		{"Ironic's node is manageable with no last_error", noLastError(n)},
		{"the agent's pstore is empty (erase_pstore removed the canaries)", pstoreEmptyCheck(boot)},
		{"the disk's metadata regions are zero (first MiB, last MiB, both ext4 superblock areas)", r.zeroCheck(byteRange{"first MiB", 0, mib})},
		{"last MiB is zero (backup GPT)", r.zeroCheck(byteRange{"last MiB", diskSize - mib, mib})},
		{"first 64 KiB of partition 1 are zero", r.zeroCheck(byteRange{"partition 1 start", headPartStart * sectorSize, 64 << 10})},
		{"first 64 KiB of partition 2 are zero", r.zeroCheck(byteRange{"partition 2 start", tailPartStart * sectorSize, 64 << 10})},
		{"no pre-filled signature left", r.signaturesGone(preparedSignatures)},
		{"libblkid finds no signature on the disk", r.blkidClean},
		{"the agent ran only the requested steps", stepsRanCheck(boot, "erase_devices_express", "erase_pstore")},
		{"the build machine's own pstore is unchanged", r.hostPstoreUnchanged},
	})
}

// cleanUnknownStep requests a clean step the agent does not have. Ironic
// boots the agent, learns its clean steps, and must fail the cleaning
// with a last_error naming the step, without running anything on the
// agent. Then manage takes the node back to manageable.
func (r *rig) cleanUnknownStep(ctx context.Context) error {
	if err := r.disk.restoreLayout(ctx); err != nil {
		return err
	}
	before, err := r.diskFingerprint(ctx)
	if err != nil {
		return err
	}
	rd := round{name: "clean-unknown-step", wait: stateCleanWait, busy: stateCleaning, done: stateCleanFailed, fail: stateManageable}
	boot, n, err := r.manualClean(ctx, rd, []cleanStep{unknownStep})
	if err != nil {
		return err
	}
	logf("last_error: %s", orNone(str(n.LastError)))
	logf("clean steps the agent offered (conductor log): %v", offeredCleanSteps(r.ironic.logPath, r.node))
	err = runChecks(ctx, []check{
		{"Ironic's last_error says the node does not support the step and names it",
			r.lastErrorHas("does not support", unknownStep.Step)},
		{"the conductor asked the agent for its clean steps and ran none", func(context.Context) error {
			cmds := loggedCommands(boot.logPath)
			if !slices.ContainsFunc(cmds, func(c string) bool { return strings.HasSuffix(c, "get_clean_steps") }) {
				return fmt.Errorf("no get_clean_steps among the agent's commands %v", cmds)
			}
			if slices.ContainsFunc(cmds, func(c string) bool { return strings.Contains(c, "execute_clean_step") }) {
				return fmt.Errorf("the agent executed a clean step: %v", cmds)
			}
			return nil
		}},
		{"the refused cleaning wrote nothing to the disk", func(ctx context.Context) error {
			after, err := r.diskFingerprint(ctx)
			if err == nil && after != before {
				err = fmt.Errorf("the disk changed")
			}
			return err
		}},
	})
	if err != nil {
		return err
	}
	if err := r.api.setProvisionState(ctx, r.node, "manage"); err != nil {
		return fmt.Errorf("recover from clean failed: %w", err)
	}
	if _, err := r.tracker.waitFor(ctx, waitSpec{want: stateManageable, failOn: []string{stateError},
		timeout: time.Minute, after: time.Now()}); err != nil {
		return fmt.Errorf("recover from clean failed: %w", err)
	}
	logf("check ok:   manage took the node from clean failed back to manageable")
	return nil
}

// noLastError returns a check that Ironic recorded no last_error on n.
func noLastError(n *node) func(context.Context) error {
	return func(context.Context) error {
		if n.ProvisionState != stateManageable {
			return fmt.Errorf("node is %q", n.ProvisionState)
		}
		if e := str(n.LastError); e != "" {
			return fmt.Errorf("last_error: %s", e)
		}
		return nil
	}
}

// eraseOptionsCheck returns a check that the conductor put its [deploy]
// erase options into the node's driver_internal_info.
func eraseOptionsCheck(n *node) func(context.Context) error {
	return func(context.Context) error {
		info := n.DriverInternalInfo
		if v, _ := info["agent_erase_devices_iterations"].(float64); v != shredRandomPasses {
			return fmt.Errorf("agent_erase_devices_iterations is %v", info["agent_erase_devices_iterations"])
		}
		if v, _ := info["agent_erase_devices_zeroize"].(bool); !v {
			return fmt.Errorf("agent_erase_devices_zeroize is %v", info["agent_erase_devices_zeroize"])
		}
		return nil
	}
}

// wholeDiskZero checks that every byte of the disk reads back as zero.
func (r *rig) wholeDiskZero(ctx context.Context) error {
	at, took, err := r.disk.allZero(ctx)
	if err != nil {
		return err
	}
	if at >= 0 {
		return fmt.Errorf("first non-zero byte at offset %d of %d", at, int64(diskSize))
	}
	logf("read back %d MiB of zeros in %s", diskSize/mib, took.Round(time.Millisecond))
	return nil
}

// overwritePass is one finished overwrite pass as the generic plugin
// logs it ("overwrite pass done: ..."). Plugin lines carry their fields
// in no fixed order, so they are read as key=value pairs.
type overwritePass struct {
	pass, passes, data, duration, mibPerS string
}

// label renders the pass as pass/passes:data, e.g. 1/2:random.
func (p overwritePass) label() string { return p.pass + "/" + p.passes + ":" + p.data }

// overwritePasses returns the finished overwrite passes on dev, in the
// order of the agent log at logPath.
func overwritePasses(logPath, dev string) ([]overwritePass, error) {
	data, err := os.ReadFile(logPath)
	if err != nil {
		return nil, err
	}
	var out []overwritePass
	for _, line := range strings.Split(string(data), "\n") {
		_, rest, ok := strings.Cut(line, "overwrite pass done: ")
		if !ok {
			continue
		}
		f := logFields(rest)
		if f["device"] != dev {
			continue
		}
		out = append(out, overwritePass{pass: f["pass"], passes: f["passes"], data: f["data"],
			duration: f["duration"], mibPerS: f["mib_per_s"]})
	}
	return out, nil
}

// logFields splits the key=value pairs of an hclog line's tail (values
// contain no spaces, or are double-quoted without inner spaces).
func logFields(s string) map[string]string {
	out := map[string]string{}
	for _, tok := range strings.Fields(s) {
		if k, v, ok := strings.Cut(tok, "="); ok {
			out[k] = strings.Trim(v, `"`)
		}
	}
	return out
}

// overwritePassesCheck returns a check that the boot's log shows the
// generic plugin overwriting the loop disk with shredRandomPasses random
// passes and then one zero pass, each to the end.
func (r *rig) overwritePassesCheck(b *agentBoot) func(context.Context) error {
	return func(context.Context) error {
		passes, err := overwritePasses(b.logPath, r.disk.dev)
		if err != nil {
			return err
		}
		var got, want []string
		for _, p := range passes {
			got = append(got, p.label())
		}
		total := shredRandomPasses + 1
		for p := 1; p <= total; p++ {
			kind := "random"
			if p == total {
				kind = "zero"
			}
			want = append(want, overwritePass{pass: fmt.Sprint(p), passes: fmt.Sprint(total), data: kind}.label())
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("finished passes on %s are %v, want %v (log %s)", r.disk.dev, got, want, b.logPath)
		}
		return nil
	}
}

// overwriteFigures returns the duration and throughput of each finished
// overwrite pass on dev from the agent log, as key=value pairs.
func overwriteFigures(logPath, dev string) string {
	passes, err := overwritePasses(logPath, dev)
	if err != nil {
		return ""
	}
	var out []string
	for _, p := range passes {
		mibs := p.mibPerS
		if v, err := strconv.ParseFloat(mibs, 64); err == nil {
			mibs = strconv.FormatFloat(v, 'f', 0, 64)
		}
		dur := p.duration
		if d, err := time.ParseDuration(dur); err == nil {
			dur = d.Round(10 * time.Millisecond).String()
		}
		out = append(out, fmt.Sprintf("pass%s_%s_mib_per_s=%s pass%s_%s_duration=%s", p.pass, p.data, mibs, p.pass, p.data, dur))
	}
	// The host's line for the whole erase_block_device call of the disk.
	if data, err := os.ReadFile(logPath); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			_, rest, ok := strings.Cut(line, "disk erased: ")
			if f := logFields(rest); ok && f["device"] == dev {
				if d, err := time.ParseDuration(f["duration"]); err == nil && len(passes) > 0 {
					out = append(out, fmt.Sprintf("erase_block_device_duration=%s overall_mib_per_s=%.0f",
						d.Round(10*time.Millisecond), float64(len(passes))*diskSize/mib/d.Seconds()))
				}
			}
		}
	}
	return strings.Join(out, " ")
}

// commandStartRe matches the agent's line for a command it starts.
var commandStartRe = regexp.MustCompile(`command started: .*command=(\S+)`)

// runningStepRe matches the agent's line for a step that an
// execute_*_step command starts, and captures the step.
var runningStepRe = regexp.MustCompile(`running step: .* step=(\S+)`)

// loggedCommands lists the commands the agent started, in order, from its
// log; an execute_*_step command is followed by its step in parentheses.
func loggedCommands(logPath string) []string {
	data, err := os.ReadFile(logPath)
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		if m := commandStartRe.FindStringSubmatch(line); m != nil {
			out = append(out, m[1])
			continue
		}
		if m := runningStepRe.FindStringSubmatch(line); m != nil && len(out) > 0 {
			if last := out[len(out)-1]; strings.Contains(last, "execute_") && !strings.Contains(last, "(") {
				out[len(out)-1] = last + "(" + m[1] + ")"
			}
		}
	}
	return out
}

// stepsRanCheck returns a check that the boot's agent executed exactly
// the given clean steps, in order.
func stepsRanCheck(b *agentBoot, steps ...string) func(context.Context) error {
	return func(context.Context) error {
		var ran []string
		for _, c := range loggedCommands(b.logPath) {
			if name, step, ok := strings.Cut(c, "("); ok && strings.HasSuffix(name, "execute_clean_step") {
				ran = append(ran, strings.TrimSuffix(step, ")"))
			}
		}
		if !slices.Equal(ran, steps) {
			return fmt.Errorf("the agent executed clean steps %v, want %v (log %s)", ran, steps, b.logPath)
		}
		return nil
	}
}

// pstoreEmptyCheck returns a check that the held boot's pstore, as its
// agent sees it, holds no file.
func pstoreEmptyCheck(b *agentBoot) func(context.Context) error {
	return func(context.Context) error {
		if b.proc.exited() {
			return fmt.Errorf("agent boot %q ended (%s): its pstore cannot be read", b.name, b.proc.exitStatus())
		}
		names, err := pstoreFiles(b.proc.pid())
		if err != nil {
			return err
		}
		if len(names) > 0 {
			return fmt.Errorf("pstore of pid %d still holds %v", b.proc.pid(), names)
		}
		return nil
	}
}

// hostPstoreUnchanged checks that the build machine's pstore directory
// still looks as it did when the rig started.
func (r *rig) hostPstoreUnchanged(context.Context) error {
	now, err := hostPstore()
	if err != nil {
		return err
	}
	if now != r.hostPstore {
		return fmt.Errorf("%s changed:\nbefore:\n%s\nnow:\n%s", pstoreDir, orNone(r.hostPstore), orNone(now))
	}
	return nil
}
