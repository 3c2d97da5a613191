//go:build e2e

package e2e

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// inspectCollectors are the collectors the inspect phase asks for: IPA's
// default pair and the two whose sysfs data every machine has.
// (dmi-decode would fail without SMBIOS tables, and a failed collector
// makes ironic-inspector fail the inspection.)
var inspectCollectors = []string{"default", "logs", "pci-devices", "numa-topology"}

// inspectorUp starts ironic-inspector next to Ironic.
func (r *rig) inspectorUp(ctx context.Context) error {
	s, err := startInspector(ctx, r.workDir, r.inspectorPort, r.ironic.cfg.apiURL())
	r.inspector = s
	r.t.Cleanup(func() { r.inspector.stop() }) // before Ironic's stop, registered earlier
	return err
}

// inspect runs in-band inspection: Ironic's inspector interface starts an
// introspection in ironic-inspector, the rig boots a fresh agent with
// ipa-inspection-callback-url once the node is in inspect wait and the
// inspector waits for data, the inspector processes what the agent posts
// and Ironic moves the node back to manageable. The node's scheduling
// properties must then be the agent's inventory's, and the inspector
// must have stored that inventory.
func (r *rig) inspect(ctx context.Context) error {
	// Drop what enrolment set, so that the values checked below can only
	// come from inspection.
	if err := r.api.patchNode(ctx, r.node, []patchOp{
		{Op: "remove", Path: "/properties/cpu_arch"}, {Op: "remove", Path: "/properties/local_gb"},
	}); err != nil {
		return err
	}
	if err := r.api.setProvisionState(ctx, r.node, "inspect"); err != nil {
		return err
	}
	boot, err := r.agentRound(ctx, round{
		name: "inspect", wait: stateInspectWait, busy: stateInspecting, done: stateManageable, fail: stateInspectFail,
		// ironic-inspector does not power the node off here ([processing]
		// power_off = False): the rig stops the agent itself.
		hold: true,
		extraArgs: []string{
			"--inspection-callback-url", r.inspector.cfg.callbackURL(),
			"--inspection-collectors", strings.Join(inspectCollectors, ","),
		},
		// Ironic starts the introspection in a background thread: the
		// agent's data are refused until the inspector waits for them.
		ready: func(ctx context.Context) error {
			return r.inspector.waitForState(ctx, r.node, "waiting", time.Minute)
		},
	})
	if err != nil {
		return err
	}
	defer boot.powerOff("inspection done; ironic-inspector leaves the node on (power_off = False)")
	stored, err := r.inspector.data(ctx, r.node)
	if err != nil {
		return fmt.Errorf("stored introspection data: %w", err)
	}
	inv, _ := stored["inventory"].(map[string]any)
	if inv == nil {
		return fmt.Errorf("stored introspection data have no inventory: keys %v", mapKeys(stored))
	}
	own, err := r.agentInventory(ctx)
	if err != nil {
		return err
	}
	n, err := r.api.getNode(ctx, r.node)
	if err != nil {
		return err
	}
	logf("node properties after inspection: %v", n.Properties)
	logf("FIGURE inspect %s", inspectionFigures(boot.logPath))
	return runChecks(ctx, []check{
		{"the node's cpus, memory_mb, local_gb and cpu_arch are the agent's inventory's", func(context.Context) error {
			return propertiesFromInventory(n.Properties, own, r.disk.dev)
		}},
		{"ironic-inspector stored the inventory the agent reports", func(context.Context) error {
			return sameInventory(inv, own, r.mac, r.disk.dev)
		}},
		{"ironic-inspector stored every collector's data", func(context.Context) error {
			return storedCollectorData(stored, inspectCollectors)
		}},
		{"ironic-inspector stored the agent's logs (logs collector)", r.ramdiskLogsCheck},
		{"the agent logged each collector, the accepted POST and the node uuid", func(context.Context) error {
			return inspectionLogged(boot.logPath, r.node, inspectCollectors)
		}},
	})
}

// inspectRefused boots an agent with the callback URL while no inspection
// runs: ironic-inspector refuses the data (400, no node under inspection
// has these MACs) and the agent must log its message and go on to
// lookup, which Ironic answers 404 in manageable.
func (r *rig) inspectRefused(ctx context.Context) error {
	n, err := r.api.getNode(ctx, r.node)
	if err != nil {
		return err
	}
	if n.ProvisionState != stateManageable {
		return fmt.Errorf("node is %q, want %q", n.ProvisionState, stateManageable)
	}
	boot, err := bootAgent(agentLaunch{
		bins: r.bins, apiURL: r.ironic.cfg.apiURL(), disk: r.disk.dev, mac: r.mac, workDir: r.workDir,
		tracker: r.tracker, bootNumber: len(r.boots) + 1,
		extraArgs: []string{"--inspection-callback-url", r.inspector.cfg.callbackURL()},
	}, "inspect-refused", []string{stateManageable}, []string{stateManageable})
	if err != nil {
		return err
	}
	r.boots = append(r.boots, boot)
	r.phaseBoots = append(r.phaseBoots, boot)
	r.t.Cleanup(boot.shutdown)
	defer boot.powerOff("the refused inspection and the first lookup were logged")
	refused := regexp.MustCompile(`inspection data refused, proceeding with lookup: .*status=(\d+) .*message="([^"]*)`)
	lookupAfter := regexp.MustCompile(`(?s)inspection data refused.*stage=inspection ok=false.*lookup failed; retrying`)
	var status, message string
	err = waitForLog(ctx, boot, 90*time.Second, func(log string) bool {
		if m := refused.FindStringSubmatch(log); m != nil {
			status, message = m[1], m[2]
		}
		return status != "" && lookupAfter.MatchString(log)
	})
	if err != nil {
		return err
	}
	logf("the agent logged ironic-inspector's refusal: status %s, message %q", status, message)
	return runChecks(ctx, []check{
		{"ironic-inspector answered 400", func(context.Context) error {
			if status != "400" {
				return fmt.Errorf("status %s", status)
			}
			return nil
		}},
		{"the agent logged the inspector's message (no node under inspection has the MACs)", func(context.Context) error {
			if !strings.Contains(message, "Could not find a node for attributes") || !strings.Contains(message, r.mac) {
				return fmt.Errorf("message %q", message)
			}
			return nil
		}},
		{"the agent went on to lookup after the refusal", func(context.Context) error {
			b, err := os.ReadFile(boot.logPath)
			if err != nil {
				return err
			}
			log := string(b)
			i, j := strings.Index(log, "inspection data refused"), strings.LastIndex(log, "lookup failed; retrying")
			if i < 0 || j < i {
				return fmt.Errorf("no lookup attempt after the refusal in %s", boot.logPath)
			}
			return nil
		}},
		{"the node is still manageable", func(ctx context.Context) error {
			n, err := r.api.getNode(ctx, r.node)
			if err == nil && n.ProvisionState != stateManageable {
				err = fmt.Errorf("node is %q", n.ProvisionState)
			}
			return err
		}},
	})
}

// waitForLog polls the boot's log until done accepts it.
func waitForLog(ctx context.Context, boot *agentBoot, timeout time.Duration, done func(string) bool) error {
	deadline := time.Now().Add(timeout)
	for {
		b, _ := os.ReadFile(boot.logPath)
		if done(string(b)) {
			return nil
		}
		if err := boot.unexpectedExit(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("agent log %s did not show what the phase waits for within %s", boot.logPath, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// agentInventory runs `metalagent inventory` with the boots' plugins,
// disk allow-list and kernel command line: the agent's own inventory,
// independent of what went over the wire.
func (r *rig) agentInventory(ctx context.Context) (map[string]any, error) {
	cmdline := filepath.Join(r.workDir, "inventory-cmdline")
	if err := os.WriteFile(cmdline, []byte(kernelCmdline(r.mac)), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, r.bins.agent, "inventory", "--standalone", "--plugin-dir", r.bins.pluginDir,
		"--require-plugin-manifest", "--allowed-disks", r.disk.dev, "--cmdline-file", cmdline)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output() // the inventory; the log goes to stderr
	if err != nil {
		return nil, fmt.Errorf("metalagent inventory: %w: %s", err, lastLines(stderr.String(), 10))
	}
	var inv map[string]any
	if err := json.Unmarshal(out, &inv); err != nil {
		return nil, fmt.Errorf("metalagent inventory: decode: %w", err)
	}
	return inv, nil
}

// propertiesFromInventory checks the node's scheduling properties against
// the agent's inventory: cpus = cpu.count, cpu_arch = cpu.architecture,
// memory_mb = memory.physical_mb, local_gb = the root disk's GiB (the
// node's root device hint names the loop disk; no partitioning spacing).
func propertiesFromInventory(props, inv map[string]any, rootDev string) error {
	cpu, _ := inv["cpu"].(map[string]any)
	mem, _ := inv["memory"].(map[string]any)
	var rootSize float64
	for _, d := range asList(inv["disks"]) {
		if d["name"] == rootDev {
			rootSize, _ = d["size"].(float64)
		}
	}
	want := map[string]string{
		"cpus":      num(cpu["count"]),
		"cpu_arch":  fmt.Sprint(cpu["architecture"]),
		"memory_mb": num(mem["physical_mb"]),
		"local_gb":  fmt.Sprint(int64(rootSize) >> 30),
	}
	var bad []string
	for k, v := range want {
		if got := num(props[k]); got != v || v == "" || v == "<nil>" || v == "0" {
			bad = append(bad, fmt.Sprintf("%s = %q, want %q", k, got, v))
		}
	}
	slices.Sort(bad)
	if len(bad) > 0 {
		return errors.New(strings.Join(bad, "; "))
	}
	return nil
}

// sameInventory checks the stored inventory against the agent's own:
// the same CPU, memory and disks, and the port's MAC among the interfaces
// with a non-loopback IPv4 address (ironic-inspector matches ports so).
func sameInventory(stored, own map[string]any, mac, disk string) error {
	var bad []string
	for _, k := range []string{"cpu", "memory", "disks", "system_vendor", "boot"} {
		a, b := stored[k], own[k]
		if k == "cpu" { // the current clock may change between two reads
			a, b = withoutKey(a, "frequency"), withoutKey(b, "frequency")
		}
		if a, b := jsonText(a), jsonText(b); a != b {
			bad = append(bad, fmt.Sprintf("%s: stored %s, agent %s", k, a, b))
		}
	}
	found := false
	for _, i := range asList(stored["interfaces"]) {
		if i["mac_address"] == mac {
			found = true
			if ip, _ := i["ipv4_address"].(string); ip == "" || strings.HasPrefix(ip, "127.") {
				bad = append(bad, fmt.Sprintf("interface %v has IPv4 %q: ports would not match", i["name"], ip))
			}
		}
	}
	if !found {
		bad = append(bad, "no interface with the port's MAC "+mac)
	}
	if disks := asList(stored["disks"]); len(disks) != 1 || disks[0]["name"] != disk || disks[0]["size"] != float64(diskSize) {
		bad = append(bad, fmt.Sprintf("disks %s, want only %s of %d bytes", jsonText(stored["disks"]), disk, diskSize))
	}
	if len(bad) > 0 {
		return errors.New(strings.Join(bad, "; "))
	}
	return nil
}

// storedCollectorData checks that the data of each collector reached the
// inspector: the configuration names them, pci_devices and numa_topology
// are there, and the root disk it picked is the hinted loop disk.
func storedCollectorData(stored map[string]any, collectors []string) error {
	var bad []string
	conf, _ := stored["configuration"].(map[string]any)
	if got := jsonText(conf["collectors"]); got != jsonText(collectors) {
		bad = append(bad, fmt.Sprintf("configuration.collectors %s", got))
	}
	if managers := asList(conf["managers"]); len(managers) == 0 {
		bad = append(bad, "configuration.managers empty")
	}
	if pci := asList(stored["pci_devices"]); len(pci) == 0 || pci[0]["vendor_id"] == nil || pci[0]["bus"] == nil {
		bad = append(bad, fmt.Sprintf("pci_devices %s", firstLine(jsonText(stored["pci_devices"]), 200)))
	}
	numa, _ := stored["numa_topology"].(map[string]any)
	if len(asList(numa["ram"])) == 0 || len(asList(numa["cpus"])) == 0 {
		bad = append(bad, fmt.Sprintf("numa_topology %s", firstLine(jsonText(stored["numa_topology"]), 200)))
	}
	if stored["error"] != nil {
		bad = append(bad, fmt.Sprintf("error %v", stored["error"]))
	}
	if len(bad) > 0 {
		return errors.New(strings.Join(bad, "; "))
	}
	return nil
}

// ramdiskLogsCheck checks that the inspector stored a gzipped tar of the
// agent's logs whose agent log shows the inspection starting.
func (r *rig) ramdiskLogsCheck(context.Context) error {
	files := r.inspector.ramdiskLogs()
	if len(files) == 0 {
		return fmt.Errorf("no ramdisk logs in %s", r.inspector.cfg.ramdiskLogsDir())
	}
	f, err := os.Open(files[len(files)-1])
	if err != nil {
		return err
	}
	defer f.Close()
	// The inspector stores the archive as the agent sent it, or decoded:
	// accept both.
	head := make([]byte, 2)
	if _, err := io.ReadFull(f, head); err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	var rd io.Reader = f
	if head[0] != 0x1f || head[1] != 0x8b {
		rd = base64.NewDecoder(base64.StdEncoding, f)
	}
	gz, err := gzip.NewReader(rd)
	if err != nil {
		return fmt.Errorf("%s: %w", files[len(files)-1], err)
	}
	tr := tar.NewReader(gz)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", files[len(files)-1], err)
		}
		names = append(names, h.Name)
		if h.Name == "metalagent.log" {
			b, _ := io.ReadAll(tr)
			if !strings.Contains(string(b), "inspection starting") {
				return fmt.Errorf("metalagent.log in %s lacks the inspection's start", files[len(files)-1])
			}
			logf("ramdisk logs stored: %s (%d files)", files[len(files)-1], len(names))
			return nil
		}
	}
	return fmt.Errorf("%s has no metalagent.log: %v", files[len(files)-1], names)
}

// inspectionLogged checks the agent's stage lines for the inspection.
func inspectionLogged(logPath, nodeUUID string, collectors []string) error {
	b, err := os.ReadFile(logPath)
	if err != nil {
		return err
	}
	log := string(b)
	var missing []string
	for _, c := range collectors {
		if !regexp.MustCompile(`inspection collector done: .*collector=` + regexp.QuoteMeta(c) + ` duration=`).MatchString(log) {
			missing = append(missing, "collector "+c)
		}
	}
	if !regexp.MustCompile(`inspection data accepted: .*status=200 .*node=` + nodeUUID).MatchString(log) {
		missing = append(missing, "accepted POST with the node uuid")
	}
	if !regexp.MustCompile(`stage done: .*stage=inspection ok=true node=` + nodeUUID).MatchString(log) {
		missing = append(missing, "inspection stage line")
	}
	if len(missing) > 0 {
		return fmt.Errorf("agent log %s lacks: %s", logPath, strings.Join(missing, ", "))
	}
	return nil
}

func asList(v any) []map[string]any {
	l, _ := v.([]any)
	out := make([]map[string]any, 0, len(l))
	for _, e := range l {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// num prints a JSON number or numeric string without a fraction.
func num(v any) string {
	switch x := v.(type) {
	case float64:
		return fmt.Sprint(int64(x))
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func mapKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// withoutKey returns a copy of the object v without key.
func withoutKey(v any, key string) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	out := make(map[string]any, len(m))
	for k, x := range m {
		if k != key {
			out[k] = x
		}
	}
	return out
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// inspectionFigureRes pick the inspection's timings out of the agent's
// log: each collector, the POST (until the inspector answered) and the
// whole inspection, and the time from the agent's start to its end.
var inspectionFigureRes = []struct {
	name string
	re   *regexp.Regexp
}{
	{"default", regexp.MustCompile(`inspection collector done: .*collector=default duration=(\S+)`)},
	{"logs", regexp.MustCompile(`inspection collector done: .*collector=logs duration=(\S+)`)},
	{"pci-devices", regexp.MustCompile(`inspection collector done: .*collector=pci-devices duration=(\S+)`)},
	{"numa-topology", regexp.MustCompile(`inspection collector done: .*collector=numa-topology duration=(\S+)`)},
	{"post", regexp.MustCompile(`inspection data accepted: .* duration=(\S+)`)},
	{"inspection", regexp.MustCompile(`inspection finished: .* duration=(\S+)`)},
	{"start_to_inspected", regexp.MustCompile(`stage=inspection ok=true .*since_start=(\S+)`)},
}

// inspectionFigures returns the inspection's figures as key=value pairs.
func inspectionFigures(logPath string) string {
	b, err := os.ReadFile(logPath)
	if err != nil {
		return "log unreadable: " + err.Error()
	}
	var out []string
	for _, f := range inspectionFigureRes {
		v := "n/a"
		if m := f.re.FindSubmatch(b); m != nil {
			v = strings.Trim(string(m[1]), `"`)
		}
		out = append(out, f.name+"="+v)
	}
	return strings.Join(out, " ")
}
