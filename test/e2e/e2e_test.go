//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// ironicOnlyEnv, when "1", runs the rig's self-check instead of the agent
// phases: Ironic, enrolment, and two lookups made by the test itself
// (one in clean wait, one in wait call-back). It needs no agent binary.
const ironicOnlyEnv = "METALAGENT_E2E_IRONIC_ONLY"

// keepEnv, when "1", keeps the work directory (logs, configs) after a
// passing run; it is always kept after a failure.
const keepEnv = "METALAGENT_E2E_KEEP"

// firstHeartbeatTimeout bounds how long a fresh agent may take from its
// start to its first heartbeat that Ironic records.
const firstHeartbeatTimeout = 3 * time.Minute

// requiredTools are the commands the rig itself runs (install.sh installs them).
var requiredTools = []string{"losetup", "sgdisk", "mkfs.ext4", "partx", "blockdev", "wipefs"}

// rig is the state shared by the phases of one run.
type rig struct {
	t          *testing.T
	workDir    string
	ironicOnly bool
	bins       agentBinaries
	iface, mac string

	disk   *loopDisk
	image  *testImage
	images *imageServer
	ironic *ironicServer
	api    *ironicClient
	// inspector is ironic-inspector, on inspectorPort (chosen before
	// Ironic starts, whose configuration names it).
	inspector     *inspectorServer
	inspectorPort int
	tracker       *nodeTracker
	node          string // UUID

	boots      []*agentBoot // every boot so far, in order
	phaseBoots []*agentBoot // the boots of the running phase

	// hostPstore is the build machine's /sys/fs/pstore at the start: the
	// boots' private namespaces must leave it alone.
	hostPstore string
}

// requireEnv, when "1", turns the skips below into failures: CI sets it
// so that a machine without root or Ironic cannot pass by skipping.
const requireEnv = "METALAGENT_E2E_REQUIRE"

// loudSkip skips the test with a message nobody can miss: CI is expected
// to run it, so a skip there is a misconfiguration.
func loudSkip(t *testing.T, reason string) {
	bar := strings.Repeat("!", 78)
	msg := fmt.Sprintf("\n%s\n!!! metalagent E2E TEST SKIPPED: %s\n!!! It needs root and Debian's Ironic: run test/e2e/install.sh as root, then make build.\n!!! CI must never skip this test (set %s=1 to make this a failure).\n%s", bar, reason, requireEnv, bar)
	if os.Getenv(requireEnv) == "1" {
		t.Fatal(strings.Replace(msg, "SKIPPED", "CANNOT RUN", 1))
	}
	t.Skip(msg)
}

// TestEndToEnd drives a fake-hardware node through manage, in-band
// inspection with ironic-inspector (and a refused one), manual
// cleaning (erase_devices, optionally erase_devices_express and
// erase_pstore, and a step nobody offers), provide (automated cleaning),
// two deployments of bad images that must fail cleanly, recovery, deploy,
// rescue and unrescue, and undeploy against a real Ironic, with a fresh bin/metalagent process
// for every simulated boot of the node.
func TestEndToEnd(t *testing.T) {
	if os.Geteuid() != 0 {
		loudSkip(t, "not running as root (loop devices and the agent need it)")
	}
	if _, err := os.Stat(ironicBin); err != nil {
		loudSkip(t, ironicBin+" is missing (apt-get install ironic-api ironic-conductor)")
	}
	r := &rig{t: t, ironicOnly: os.Getenv(ironicOnlyEnv) == "1"}
	r.checkEnvironment()

	ctx := context.Background()
	if dl, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-30*time.Second))
		defer cancel()
	}
	r.makeWorkDir()

	pr := &phaseRunner{t: t, ctx: ctx, onFail: r.printDiagnostics, onStart: func(string) { r.phaseBoots = nil }}
	defer pr.summary()

	pr.run("setup", r.setup)
	pr.run("ironic-up", r.ironicUp)
	if !r.ironicOnly {
		pr.run("inspector-up", r.inspectorUp)
	}
	pr.run("enroll", r.enroll)
	pr.run("manage", r.manage)
	if r.ironicOnly {
		fmt.Printf("%s=1: running the rig's self-check (lookups by the test, no agent)\n", ironicOnlyEnv)
		pr.run("lookup-clean", r.lookupInCleanWait)
		pr.run("lookup-deploy", r.lookupInDeployWait)
		return
	}
	pr.run("inspect", r.inspect)
	pr.run("inspect-refused", r.inspectRefused)
	pr.run("clean-erase", r.cleanErase)
	pr.run("clean-express", r.cleanExpress)
	pr.run("clean-unknown-step", r.cleanUnknownStep)
	pr.run("provide", r.provide)
	pr.run("deploy-bad-checksum", r.deployBadChecksum)
	pr.run("deploy-image-404", r.deployImage404)
	pr.run("recover", r.recoverNode)
	pr.run("deploy", r.deploy)
	pr.run("rescue", r.rescue)
	pr.run("undeploy", r.undeploy)
}

// checkEnvironment fails (not skips) on what install.sh or make build
// should have provided.
func (r *rig) checkEnvironment() {
	t := r.t
	for _, tool := range append(requiredTools, namespaceTools...) {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found on PATH: run test/e2e/install.sh as root", tool)
		}
	}
	if _, err := os.Stat(debianPython); err != nil {
		t.Fatalf("%s missing: Ironic needs Debian's python3", debianPython)
	}
	if _, err := os.Stat(inspectorBin); err != nil && !r.ironicOnly {
		t.Fatalf("%s missing: run test/e2e/install.sh as root (package ironic-inspector)", inspectorBin)
	}
	root, err := findRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if !r.ironicOnly {
		if r.bins, err = findAgentBinaries(root); err != nil {
			t.Fatalf("%v\n(set %s=1 to run only the rig's Ironic self-check)", err, ironicOnlyEnv)
		}
	}
	if r.iface, r.mac, err = firstPhysicalMAC(); err != nil {
		t.Fatal(err)
	}
	if r.hostPstore, err = hostPstore(); err != nil {
		t.Fatal(err)
	}
}

// firstPhysicalMAC returns the first network interface (by name) that has
// a device link in sysfs, the kind IPA reports in its inventory, and its
// MAC address.
func firstPhysicalMAC() (string, string, error) {
	entries, err := os.ReadDir("/sys/class/net")
	if err != nil {
		return "", "", err
	}
	for _, e := range entries {
		dir := filepath.Join("/sys/class/net", e.Name())
		if _, err := os.Stat(filepath.Join(dir, "device")); err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, "address"))
		mac := strings.TrimSpace(string(data))
		if err != nil || mac == "" || mac == "00:00:00:00:00:00" {
			continue
		}
		return e.Name(), mac, nil
	}
	return "", "", fmt.Errorf("no network interface with a /sys/class/net/IF/device link: the node's port needs a MAC the agent reports")
}

// makeWorkDir creates the run's directory and registers its removal.
func (r *rig) makeWorkDir() {
	dir, err := os.MkdirTemp("", "metalagent-e2e-")
	if err != nil {
		r.t.Fatal(err)
	}
	r.workDir = dir
	fmt.Printf("work directory: %s\n", dir)
	// Registered first, so it runs last, after the processes and the loop
	// device are gone.
	r.t.Cleanup(func() {
		if r.disk != nil {
			_ = os.Remove(r.disk.file) // 1 GiB, written whole by clean-erase: never keep it
		}
		if r.t.Failed() || os.Getenv(keepEnv) == "1" {
			fmt.Printf("work directory kept: %s\n", dir)
			return
		}
		_ = os.RemoveAll(dir)
	})
}

// setup creates the node's disk and the image and starts the image server.
func (r *rig) setup(ctx context.Context) error {
	var err error
	r.disk, err = newLoopDisk(ctx, r.workDir)
	r.t.Cleanup(func() {
		if r.disk != nil && r.disk.dev != "" {
			if err := r.disk.detach(context.Background()); err != nil {
				fmt.Printf("detach %s: %v\n", r.disk.dev, err)
			}
		}
	})
	if err != nil {
		return fmt.Errorf("node disk: %w", err)
	}
	logf("node disk %s on %s; partitions seen by the kernel: %v", r.disk.dev, r.disk.file, r.disk.partitions())
	found, err := r.disk.present(ctx, preparedSignatures)
	if err != nil {
		return err
	}
	if len(found) != len(preparedSignatures) {
		return fmt.Errorf("pre-fill incomplete: found only %v", found)
	}
	logf("pre-filled signatures: %s", strings.Join(found, "; "))
	logf("libblkid sees:\n%s", r.disk.libblkidSignatures(ctx))

	if r.image, err = buildTestImage(ctx, r.workDir); err != nil {
		return fmt.Errorf("test image: %w", err)
	}
	if r.images, err = serveImage(r.image); err != nil {
		return fmt.Errorf("image server: %w", err)
	}
	r.t.Cleanup(r.images.close)
	logf("image %s (%d bytes, sha256 %s) served at %s", r.image.path, imageSize, r.image.sha256, r.images.url)
	logf("node port MAC: %s (%s)", r.mac, r.iface)
	return nil
}

// ironicUp starts Ironic and checks that its conductor offers fake-hardware.
func (r *rig) ironicUp(ctx context.Context) error {
	// ironic-inspector starts later (it needs Ironic's URL), but Ironic's
	// configuration names its port.
	var err error
	if r.inspectorPort, err = freePort(); err != nil {
		return err
	}
	s, err := startIronic(ctx, r.workDir, r.inspectorPort)
	r.ironic = s
	r.t.Cleanup(func() { r.ironic.stop() }) // runs before the loop device is detached
	if err != nil {
		return err
	}
	r.api = newIronicClient(s.cfg.apiURL())
	var drivers struct {
		Drivers []struct {
			Name  string   `json:"name"`
			Hosts []string `json:"hosts"`
		} `json:"drivers"`
	}
	if err := r.api.do(ctx, apiVersion, "GET", "/v1/drivers", nil, &drivers); err != nil {
		return err
	}
	for _, d := range drivers.Drivers {
		if d.Name == "fake-hardware" && len(d.Hosts) > 0 {
			logf("conductor %v offers fake-hardware", d.Hosts)
			return nil
		}
	}
	return fmt.Errorf("no conductor offers fake-hardware: %+v", drivers.Drivers)
}

// enroll creates the node and its port and checks the driver interfaces.
func (r *rig) enroll(ctx context.Context) error {
	n, err := r.api.createNode(ctx, map[string]any{
		"name":                 "metalagent-e2e",
		"driver":               "fake-hardware",
		"deploy_interface":     "direct",
		"inspect_interface":    "inspector",
		"boot_interface":       "fake",
		"management_interface": "fake",
		"power_interface":      "fake",
		"network_interface":    "noop",
		"properties": map[string]any{
			"capabilities": "boot_mode:uefi",
			// Ironic 21.4 skips setting the boot device to disk (which fake
			// management refuses) for Lenovo nodes in UEFI mode.
			"vendor":      "lenovo",
			"cpu_arch":    "x86_64",
			"local_gb":    diskSize >> 30,
			"root_device": map[string]any{"name": r.disk.dev},
		},
	})
	if err != nil {
		return err
	}
	r.node = n.UUID
	logf("node %s enrolled (%s)", n.UUID, n.ProvisionState)
	if err := r.api.createPort(ctx, n.UUID, r.mac); err != nil {
		return err
	}
	r.tracker = startTracker(r.api, n.UUID)
	r.t.Cleanup(r.tracker.stop)
	v, err := r.api.validate(ctx, n.UUID)
	if err != nil {
		return err
	}
	interfaces := []string{"power", "management", "boot"}
	if !r.ironicOnly {
		interfaces = append(interfaces, "inspect")
	}
	for _, iface := range interfaces {
		if res := v[iface]; res.Result == nil || !*res.Result {
			return fmt.Errorf("%s interface does not validate: %s", iface, res.Reason)
		}
	}
	return nil
}

// manage moves the node from enroll to manageable.
func (r *rig) manage(ctx context.Context) error {
	if err := r.api.setProvisionState(ctx, r.node, "manage"); err != nil {
		return err
	}
	_, err := r.tracker.waitFor(ctx, waitSpec{want: stateManageable, timeout: time.Minute,
		check: func(n *node) error {
			if n.ProvisionState == stateEnroll && str(n.LastError) != "" {
				return fmt.Errorf("manage failed: %s", str(n.LastError))
			}
			return nil
		}})
	return err
}

// provide runs automated cleaning with a fresh agent and checks that the
// disk's metadata is gone and nothing else was touched.
func (r *rig) provide(ctx context.Context) error {
	// The manual-cleaning phases before may have erased the layout.
	if err := r.disk.restoreLayout(ctx); err != nil {
		return err
	}
	if err := r.api.setProvisionState(ctx, r.node, "provide"); err != nil {
		return err
	}
	boot, err := r.agentRound(ctx, cleanRound("provide"))
	if err != nil {
		return err
	}
	return runChecks(ctx, []check{
		{"the conductor cleaned over HTTPS, verifying the agent's auto-TLS certificate", r.autoTLSCheck(boot)},
		{"first MiB is zero (protective MBR, primary GPT)", r.zeroCheck(byteRange{"first MiB", 0, mib})},
		{"last MiB is zero (backup GPT)", r.zeroCheck(byteRange{"last MiB", diskSize - mib, mib})},
		{"no pre-filled signature left (MBR, both GPT headers, both ext4 superblocks)", r.signaturesGone(preparedSignatures)},
		{"canary block in the middle untouched (only metadata was erased)", r.canaryCheck},
		{"libblkid finds no signature on the disk", r.blkidClean},
	})
}

// deploy writes the image through the agent and reads it back.
func (r *rig) deploy(ctx context.Context) error {
	if err := r.setInstanceInfo(ctx); err != nil {
		return err
	}
	if err := r.api.setProvisionState(ctx, r.node, "active"); err != nil {
		return err
	}
	gets := r.images.getCount()
	logsBefore := r.ironic.deployLogs()
	rd := deployRound("deploy")
	sb := r.sandboxDir(rd.name)
	rd.extraArgs = []string{"--sandbox", sb}
	if _, err := r.agentRound(ctx, rd); err != nil {
		return err
	}
	return runChecks(ctx, []check{
		{"the agent downloaded the image", func(context.Context) error {
			if r.images.getCount() <= gets {
				return fmt.Errorf("no GET of the image; requests:\n%s", r.images.log())
			}
			return nil
		}},
		{"the disk holds the image", func(ctx context.Context) error {
			how, err := compareWithImage(ctx, r.disk, r.image)
			if err == nil {
				logf("%s", how)
			}
			return err
		}},
		{"the conductor stored the agent's deploy logs (log.collect_system_logs)", r.deployLogsCheck(logsBefore)},
		{"install_bootloader's efibootmgr entry for the image's ESP and the power-off were recorded in the sandbox", r.efibootmgrRecorded(sb)},
	})
}

// undeploy tears the instance down; cleaning runs with a fresh agent.
func (r *rig) undeploy(ctx context.Context) error {
	if err := r.api.setProvisionState(ctx, r.node, "deleted"); err != nil {
		return err
	}
	if _, err := r.agentRound(ctx, cleanRound("undeploy")); err != nil {
		return err
	}
	return runChecks(ctx, r.imageErasedChecks())
}

// autoTLSCheck checks that the boot served its API over HTTPS only, with
// the certificate it wrote to its TLS directory, and that Ironic stored
// that same certificate as the node's agent_verify_ca (the file its agent
// client verifies the agent with): the conductor's commands reached the
// agent, so they were sent over verified TLS.
func (r *rig) autoTLSCheck(b *agentBoot) func(context.Context) error {
	return func(context.Context) error {
		mine, err := os.ReadFile(filepath.Join(b.tlsDir, "agent.crt"))
		if err != nil {
			return fmt.Errorf("the agent wrote no auto-TLS certificate: %w", err)
		}
		stored := filepath.Join(r.ironic.cfg.stateDir, "certificates", r.node+".crt")
		theirs, err := os.ReadFile(stored)
		if err != nil {
			return fmt.Errorf("Ironic stored no agent_verify_ca: %w", err)
		}
		if !bytes.Equal(bytes.TrimSpace(mine), bytes.TrimSpace(theirs)) {
			return fmt.Errorf("Ironic's %s differs from the agent's certificate", stored)
		}
		log, err := os.ReadFile(b.logPath)
		if err != nil {
			return err
		}
		if !bytes.Contains(log, []byte("tls=auto")) {
			return fmt.Errorf("the agent log has no 'API serving ... tls=auto' line")
		}
		return nil
	}
}

// imageErasedChecks are the checks after cleaning a disk that held the
// test image: its partition table is gone.
func (r *rig) imageErasedChecks() []check {
	gptSigs := preparedSignatures[:3] // MBR and both GPT headers (the image has no ext4)
	return []check{
		{"protective MBR and primary GPT (sectors 0-33) are zero", r.zeroCheck(byteRange{"sectors 0-33", 0, 34 * sectorSize})},
		{"last MiB is zero (backup GPT)", r.zeroCheck(byteRange{"last MiB", diskSize - mib, mib})},
		{"no partition-table signature left", r.signaturesGone(gptSigs)},
		{"libblkid finds no signature on the disk", r.blkidClean},
	}
}

// round is one simulated boot of the node into the agent.
type round struct {
	name string
	wait string // the node waits for an agent: boot one
	busy string // the node works with the agent
	done string // the state that ends the round
	fail string // a state that ends it with an error
	// hold keeps the agent running once the node is in done, even if
	// Ironic powers the node off: the caller inspects the agent and then
	// calls its powerOff.
	hold bool
	// holdIn, with hold, are more states in which power does not end
	// the boot: manual cleaning powers the node off while still in
	// cleaning, before it reaches manageable.
	holdIn    []string
	extraArgs []string // more agent arguments for this boot only
	// ready, if set, runs once the node is in wait and before the boot:
	// what else must be ready for the agent.
	ready func(ctx context.Context) error
}

// cleanRound is a boot for cleaning that must reach available.
func cleanRound(name string) round {
	return round{name: name, wait: stateCleanWait, busy: stateCleaning, done: stateAvailable, fail: stateCleanFailed}
}

// deployRound is a boot for a deployment that must reach active.
func deployRound(name string) round {
	return round{name: name, wait: stateDeployWait, busy: stateDeploying, done: stateActive, fail: stateDeployFailed}
}

// agentRound is one simulated boot: wait until the node waits for an
// agent (rd.wait), boot a fresh agent, and wait for the node to reach
// rd.done while it stays in rd.wait/rd.busy. rd.fail ends it early, and
// so does rd.done before the agent booted. Call it right after
// requesting the transition: it ignores views of the node older than
// its own start. It returns the boot, which still runs if rd.hold.
func (r *rig) agentRound(ctx context.Context, rd round) (*agentBoot, error) {
	name := rd.name
	if _, err := r.tracker.waitFor(ctx, waitSpec{want: rd.wait, failOn: []string{rd.fail, stateError, rd.done},
		timeout: 2 * time.Minute, after: time.Now()}); err != nil {
		return nil, err
	}
	if rd.ready != nil {
		if err := rd.ready(ctx); err != nil {
			return nil, err
		}
	}
	// A real node's kernel scans the partition table at boot.
	r.disk.rescanPartitions(ctx)
	var holdIn []string
	if rd.hold {
		holdIn = append([]string{rd.done}, rd.holdIn...)
	}
	boot, err := bootAgent(agentLaunch{
		bins: r.bins, apiURL: r.ironic.cfg.apiURL(), disk: r.disk.dev, mac: r.mac,
		workDir: r.workDir, tracker: r.tracker, bootNumber: len(r.boots) + 1, extraArgs: rd.extraArgs,
	}, name, []string{rd.wait, rd.busy}, holdIn)
	if err != nil {
		return nil, err
	}
	r.boots = append(r.boots, boot)
	r.phaseBoots = append(r.phaseBoots, boot)
	r.t.Cleanup(boot.shutdown)

	heard := false
	// Ironic itself fails the node after callbackTimeout without progress;
	// this bound only catches an agent that keeps a step running forever.
	_, err = r.tracker.waitFor(ctx, waitSpec{want: rd.done, failOn: []string{rd.fail, stateError}, timeout: 8 * time.Minute,
		check: func(n *node) error {
			// The conductor stores the callback URL of each heartbeat: one
			// ending in this boot's port proves the boot's agent is heard.
			if u, _ := n.DriverInternalInfo["agent_url"].(string); !heard && strings.HasSuffix(u, fmt.Sprintf(":%d", boot.port)) {
				heard = true
				logf("first heartbeat of boot %q recorded: agent_url %s, agent_version %q", name, u, n.DriverInternalInfo["agent_version"])
			}
			if !heard && n.ProvisionState == rd.wait && time.Since(boot.started) > firstHeartbeatTimeout {
				return fmt.Errorf("no heartbeat from agent boot %q within %s (Ironic has agent_url %q)",
					name, firstHeartbeatTimeout, n.DriverInternalInfo["agent_url"])
			}
			if r.ironic.proc.exited() {
				return fmt.Errorf("ironic %w: %s", errProcessExited, r.ironic.proc.exitStatus())
			}
			if err := boot.unexpectedExit(); err != nil {
				return err
			}
			// An agent that left (exit 0) while the node still waits for it
			// will never be heard from again: fail now, not at the timeout.
			if p := boot.proc; p.exited() && !p.wasStopped() && n.ProvisionState == rd.wait &&
				time.Since(p.endedAt) > 3*ramdiskHeartbeatTimeout*time.Second {
				return fmt.Errorf("agent boot %q exited (%s) %s ago but the node still waits for it",
					name, p.exitStatus(), time.Since(p.endedAt).Round(time.Second))
			}
			return nil
		}})
	if err != nil || !rd.hold {
		boot.shutdown()
	}
	if err != nil {
		return nil, err
	}
	if rd.hold {
		logf("agent boot %q held running for inspection in %q", name, rd.done)
		return boot, nil
	}
	logf("agent boot %q ended: %s", name, boot.proc.exitStatus())
	logf("FIGURE boot=%s %s", name, bootFigures(boot.logPath))
	return boot, nil
}

// lastBootLogged checks that the latest agent boot's log contains text.
func (r *rig) lastBootLogged(text string) func(context.Context) error {
	return func(context.Context) error {
		if len(r.boots) == 0 {
			return errors.New("no agent boot")
		}
		b, err := os.ReadFile(r.boots[len(r.boots)-1].logPath)
		if err != nil {
			return err
		}
		if !strings.Contains(string(b), text) {
			return fmt.Errorf("agent log %s lacks %q", r.boots[len(r.boots)-1].logPath, text)
		}
		return nil
	}
}

// figureRes pick the agent's own start-up timings out of its log: its
// "stage done" lines carry since_start, and the plugin host logs each
// manager's start time.
var figureRes = []struct {
	name string
	re   *regexp.Regexp
}{
	{"start_to_api", regexp.MustCompile(`stage="API serving".* since_start=(\S+)`)},
	{"start_to_first_heartbeat_accepted", regexp.MustCompile(`stage=heartbeating.* since_start=(\S+)`)},
	{"generic_plugin_start", regexp.MustCompile(`hardware manager in use:.* manager=generic .*start=(\S+)`)},
}

// bootFigures returns the boot's start-up figures as key=value pairs.
func bootFigures(logPath string) string {
	b, err := os.ReadFile(logPath)
	if err != nil {
		return "log unreadable: " + err.Error()
	}
	var out []string
	for _, f := range figureRes {
		v := "n/a"
		if m := f.re.FindSubmatch(b); m != nil {
			v = string(m[1])
		}
		out = append(out, f.name+"="+v)
	}
	return strings.Join(out, " ")
}

// setInstanceInfo points the node at the served image.
func (r *rig) setInstanceInfo(ctx context.Context) error {
	return r.pointAtImage(ctx, r.images.url, r.image.sha256)
}

// pointAtImage sets the node's instance_info to a raw whole-disk image
// at url with the given sha256 and checks that the deploy interface
// validates. The bad-input phases pass a bad URL or digest.
func (r *rig) pointAtImage(ctx context.Context, url, sha256 string) error {
	ops := []patchOp{
		{Op: "add", Path: "/instance_info/image_source", Value: url},
		{Op: "add", Path: "/instance_info/image_os_hash_algo", Value: "sha256"},
		{Op: "add", Path: "/instance_info/image_os_hash_value", Value: sha256},
		{Op: "add", Path: "/instance_info/image_disk_format", Value: "raw"},
		{Op: "add", Path: "/instance_info/root_gb", Value: "1"},
	}
	if err := r.api.patchNode(ctx, r.node, ops); err != nil {
		return err
	}
	v, err := r.api.validate(ctx, r.node)
	if err != nil {
		return err
	}
	if res := v["deploy"]; res.Result == nil || !*res.Result {
		return fmt.Errorf("deploy interface does not validate: %s", res.Reason)
	}
	return nil
}

// zeroCheck returns a check that the range is all zero.
func (r *rig) zeroCheck(br byteRange) func(context.Context) error {
	return func(ctx context.Context) error {
		bad, err := r.disk.nonZero(ctx, []byteRange{br})
		if err != nil {
			return err
		}
		if len(bad) > 0 {
			return fmt.Errorf("not zero: %s", strings.Join(bad, "; "))
		}
		return nil
	}
}

// signaturesGone returns a check that none of the probes' signatures remain.
func (r *rig) signaturesGone(probes []signatureProbe) func(context.Context) error {
	return func(ctx context.Context) error {
		found, err := r.disk.present(ctx, probes)
		if err != nil {
			return err
		}
		if len(found) > 0 {
			return fmt.Errorf("still present: %s", strings.Join(found, "; "))
		}
		return nil
	}
}

// canaryCheck checks that the canary block survived cleaning.
func (r *rig) canaryCheck(ctx context.Context) error {
	ok, err := r.disk.canaryIntact(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("the canary at byte %d changed: cleaning erased more than metadata", canaryOffset)
	}
	return nil
}

// blkidClean checks that wipefs/libblkid finds nothing on the disk.
func (r *rig) blkidClean(ctx context.Context) error {
	if out := r.disk.libblkidSignatures(ctx); out != "" {
		return fmt.Errorf("wipefs still sees:\n%s", out)
	}
	return nil
}

// deployLogsCheck returns a check that the conductor stored a new gzip
// archive of the agent's logs for the deployment (cleaning archives,
// named *_cleaning_*, do not count).
func (r *rig) deployLogsCheck(before []string) func(context.Context) error {
	return func(context.Context) error {
		var fresh []string
		for _, f := range r.ironic.deployLogs() {
			if !slices.Contains(before, f) && !strings.Contains(filepath.Base(f), "_cleaning_") {
				fresh = append(fresh, f)
			}
		}
		if len(fresh) == 0 {
			return fmt.Errorf("no new deploy log archive in %s (have %v)", r.ironic.cfg.deployLogsDir(), r.ironic.deployLogs())
		}
		for _, f := range fresh {
			data, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			if len(data) < 2 || data[0] != 0x1f || data[1] != 0x8b {
				return fmt.Errorf("%s is not a gzip archive (%d bytes)", f, len(data))
			}
			logf("deploy logs stored: %s (%d bytes)", f, len(data))
		}
		return nil
	}
}

// printDiagnostics prints what is needed to understand a failed phase.
func (r *rig) printDiagnostics(phase string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var b strings.Builder
	fmt.Fprintf(&b, "\n########## diagnostics for failed phase %q ##########\n", phase)
	if r.api != nil && r.node != "" {
		if n, err := r.api.getNode(ctx, r.node); err == nil {
			fmt.Fprintf(&b, "--- node now: %s\n--- Ironic last_error: %s\n", describeNode(n), orNone(str(n.LastError)))
		} else {
			fmt.Fprintf(&b, "--- node: cannot fetch: %v\n", err)
		}
		if r.tracker != nil {
			fmt.Fprintf(&b, "--- provision state history:\n%s\n", r.tracker.historyText())
		}
		if h, err := r.api.history(ctx, r.node); err == nil {
			fmt.Fprintf(&b, "--- Ironic node history (%d events):\n", len(h))
			for _, e := range h {
				fmt.Fprintf(&b, "%s %s %s: %s\n", e.CreatedAt, e.Severity, e.EventType, e.Event)
			}
		}
	}
	for _, boot := range r.phaseBoots {
		b.WriteString(boot.diagnostics())
	}
	if len(r.phaseBoots) == 0 && len(r.boots) > 0 {
		b.WriteString(r.boots[len(r.boots)-1].diagnostics())
	}
	if r.images != nil {
		fmt.Fprintf(&b, "--- image server requests:\n%s\n", r.images.log())
	}
	if r.ironic != nil {
		b.WriteString(r.ironic.diagnostics())
	}
	if r.inspector != nil && (phase == "inspect" || phase == "inspect-refused" || phase == "inspector-up") {
		b.WriteString(r.inspector.diagnostics())
	}
	fmt.Fprintf(&b, "--- work directory (kept): %s\n", r.workDir)
	b.WriteString("########## end of diagnostics ##########\n")
	fmt.Print(b.String())
}
