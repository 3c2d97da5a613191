//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-crypt/crypt/algorithm/shacrypt"
)

// Rescue states of Ironic.
const (
	stateRescueWait   = "rescue wait"
	stateRescuing     = "rescuing"
	stateRescue       = "rescue"
	stateRescueFailed = "rescue failed"
	stateUnrescueFail = "unrescue failed"
)

// rescuePassword is the password the rig asks Ironic to rescue with;
// Ironic sends the agent its SHA-256 crypt hash.
const rescuePassword = "metalagent-e2e-rescue"

// rescuePasswordFile is where the agent writes the hash, inside its
// sandbox directory.
const rescuePasswordFile = "etc/ipa-rescue-config/ipa-rescue-password"

// sandboxRecord is a line of the agent's sandbox record, actions.jsonl.
type sandboxRecord struct {
	Time      time.Time      `json:"time"`
	CommandID string         `json:"command_id"`
	Action    string         `json:"action"`
	Arguments map[string]any `json:"arguments"`
	Effect    string         `json:"effect"`
}

// sandboxDir is the sandbox directory of the rig's next boot named name.
func (r *rig) sandboxDir(name string) string {
	return filepath.Join(r.workDir, fmt.Sprintf("sandbox-%02d-%s", len(r.boots)+1, name))
}

// readSandbox reads the records of a boot's sandbox directory.
func readSandbox(dir string) ([]sandboxRecord, error) {
	b, err := os.ReadFile(filepath.Join(dir, "actions.jsonl"))
	if err != nil {
		return nil, fmt.Errorf("sandbox record: %w", err)
	}
	var out []sandboxRecord
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var rec sandboxRecord
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return nil, fmt.Errorf("sandbox record line %d: %w", len(out)+1, err)
		}
		out = append(out, rec)
	}
	return out, sc.Err()
}

// setMaintenance puts the node in or out of maintenance: Ironic lets an
// active or rescued node change interfaces only in maintenance.
func (r *rig) setMaintenance(ctx context.Context, on bool) error {
	path := "/v1/nodes/" + url.PathEscape(r.node) + "/maintenance"
	if on {
		return r.api.do(ctx, apiVersion, http.MethodPut, path, map[string]any{"reason": "metalagent e2e: interface change"}, nil)
	}
	return r.api.do(ctx, apiVersion, http.MethodDelete, path, nil, nil)
}

// patchInMaintenance applies ops to the node with maintenance on.
func (r *rig) patchInMaintenance(ctx context.Context, ops []patchOp) error {
	if err := r.setMaintenance(ctx, true); err != nil {
		return err
	}
	err := r.api.patchNode(ctx, r.node, ops)
	if merr := r.setMaintenance(ctx, false); err == nil {
		err = merr
	}
	return err
}

// enableRescue gives the active node what agent rescue needs: the agent
// rescue interface and the pxe boot interface (the fake one has no
// validate_rescue), with dummy deploy and rescue kernel and ramdisk files
// for it to stage in its TFTP directory.
func (r *rig) enableRescue(ctx context.Context) error {
	dir := r.ironic.cfg.pxeImagesDir() // allowed for file:// URLs
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ops := []patchOp{
		{Op: "replace", Path: "/boot_interface", Value: "pxe"},
		{Op: "replace", Path: "/rescue_interface", Value: "agent"},
	}
	for _, f := range []string{"deploy_kernel", "deploy_ramdisk", "rescue_kernel", "rescue_ramdisk"} {
		p := filepath.Join(dir, f)
		if err := os.WriteFile(p, []byte("metalagent e2e dummy "+f+"\n"), 0o644); err != nil {
			return err
		}
		ops = append(ops, patchOp{Op: "add", Path: "/driver_info/" + f, Value: "file://" + p})
	}
	if err := r.patchInMaintenance(ctx, ops); err != nil {
		return err
	}
	v, err := r.api.validate(ctx, r.node)
	if err != nil {
		return err
	}
	if res := v["boot"]; res.Result == nil || !*res.Result {
		return fmt.Errorf("boot interface does not validate: %s", res.Reason)
	}
	// The agent rescue interface checks the boot interface's rescue
	// parameters first, the rescue password (given with the rescue
	// request) last: missing only the password, it is ready.
	if res := v["rescue"]; (res.Result == nil || !*res.Result) && !strings.Contains(res.Reason, "rescue_password") {
		return fmt.Errorf("rescue interface does not validate: %s", res.Reason)
	}
	logf("node has boot interface pxe and rescue interface agent; dummy kernels and ramdisks in %s", dir)
	return nil
}

// rescue rescues the active node: Ironic boots a fresh agent (with a
// sandbox) in rescue wait, calls rescue.finalize_rescue with the hash of
// the rescue password, and the node reaches rescue. The agent must have
// written Ironic's hash to its sandboxed password file and stopped its
// API and heartbeats. Then unrescue brings the node back to active.
func (r *rig) rescue(ctx context.Context) error {
	if err := r.enableRescue(ctx); err != nil {
		return err
	}
	err := r.api.do(ctx, apiVersion, http.MethodPut, "/v1/nodes/"+url.PathEscape(r.node)+"/states/provision",
		map[string]any{"target": "rescue", "rescue_password": rescuePassword}, nil)
	if err != nil {
		return err
	}
	sb := r.sandboxDir("rescue")
	boot, err := r.agentRound(ctx, round{name: "rescue", wait: stateRescueWait, busy: stateRescuing, done: stateRescue,
		fail: stateRescueFailed, hold: true, extraArgs: []string{"--sandbox", sb}})
	if err != nil {
		return err
	}
	err = runChecks(ctx, []check{
		{"the sandboxed password file holds Ironic's hash of the rescue password", r.rescueHashCheck(sb)},
		{"the write was recorded as finalize_rescue's, nothing else was", r.rescueRecordCheck(sb)},
		{"the agent stopped its API and heartbeats and still runs", r.stoppedAPICheck(boot)},
	})
	boot.powerOff("unrescue reboots the node into its instance")
	if err != nil {
		return err
	}
	return r.unrescue(ctx)
}

// rescueHashCheck checks the password file: a SHA-256 crypt hash ($5$,
// Ironic's default [conductor]rescue_password_hash_algorithm; the agent
// would make $6$) that verifies the rig's password.
func (r *rig) rescueHashCheck(sb string) func(context.Context) error {
	return func(context.Context) error {
		b, err := os.ReadFile(filepath.Join(sb, rescuePasswordFile))
		if err != nil {
			return err
		}
		hash := string(b)
		if !strings.HasPrefix(hash, "$5$") {
			return fmt.Errorf("password file holds %q, not Ironic's SHA-256 crypt hash", hash)
		}
		d, err := shacrypt.Decode(hash)
		if err != nil {
			return fmt.Errorf("password file holds %q: %w", hash, err)
		}
		if !d.Match(rescuePassword) {
			return fmt.Errorf("%q is not a hash of the rescue password", hash)
		}
		logf("password file %s: %s (verifies %q)", filepath.Join(sb, rescuePasswordFile), hash, rescuePassword)
		return nil
	}
}

// rescueRecordCheck checks that the sandbox recorded exactly the one
// write of the rescue password file, by a command.
func (r *rig) rescueRecordCheck(sb string) func(context.Context) error {
	return func(context.Context) error {
		recs, err := readSandbox(sb)
		if err != nil {
			return err
		}
		if len(recs) != 1 || recs[0].Action != "write_file" || recs[0].Arguments["path"] != "/"+rescuePasswordFile || recs[0].CommandID == "" {
			return fmt.Errorf("records %+v: want one write_file of /%s with a command id", recs, rescuePasswordFile)
		}
		logf("sandbox record: %s %v by command %s: %s", recs[0].Action, recs[0].Arguments["path"], recs[0].CommandID, recs[0].Effect)
		return nil
	}
}

// stoppedAPICheck checks that the held boot's agent still runs, logged
// that it stopped its API and heartbeats, answers no API request, and
// sends no heartbeat for two heartbeat intervals.
func (r *rig) stoppedAPICheck(b *agentBoot) func(context.Context) error {
	return func(ctx context.Context) error {
		if b.proc.exited() {
			return fmt.Errorf("the agent ended (%s); it must idle without its API", b.proc.exitStatus())
		}
		const stopped = "API and heartbeats stopped"
		log, err := os.ReadFile(b.logPath)
		if err != nil {
			return err
		}
		at := bytes.Index(log, []byte(stopped))
		if at < 0 {
			return fmt.Errorf("agent log %s lacks %q", b.logPath, stopped)
		}
		var status map[string]any
		if err := b.getJSON(ctx, "/v1/status", &status); err == nil {
			return errors.New("the agent's API still answers GET /v1/status")
		}
		// Heartbeats come every 0.3-0.6 of the heartbeat timeout.
		wait := time.Duration(ramdiskHeartbeatTimeout) * time.Second
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		if log, err = os.ReadFile(b.logPath); err != nil {
			return err
		}
		if after := log[at:]; bytes.Contains(after, []byte("heartbeat accepted")) || bytes.Contains(after, []byte("heartbeat failed")) {
			return fmt.Errorf("the agent heartbeated after stopping:\n%s", after)
		}
		if b.proc.exited() {
			return fmt.Errorf("the agent ended (%s) while idle", b.proc.exitStatus())
		}
		logf("agent pid %d idles: API closed, no heartbeat in %s", b.proc.pid(), wait)
		return nil
	}
}

// unrescue brings the rescued node back to active. The boot interface
// goes back to fake first: with pxe, unrescue's prepare_instance sets the
// boot device to disk, which the fake management interface refuses (the
// same limitation that makes the rig use vendor lenovo for deploys).
func (r *rig) unrescue(ctx context.Context) error {
	if err := r.patchInMaintenance(ctx, []patchOp{{Op: "replace", Path: "/boot_interface", Value: "fake"}}); err != nil {
		return err
	}
	if err := r.api.setProvisionState(ctx, r.node, "unrescue"); err != nil {
		return err
	}
	n, err := r.tracker.waitFor(ctx, waitSpec{want: stateActive, failOn: []string{stateUnrescueFail, stateError},
		timeout: 2 * time.Minute, after: time.Now()})
	if err != nil {
		return err
	}
	if _, ok := n.InstanceInfo["rescue_password"]; ok {
		return errors.New("instance_info still holds rescue_password after unrescue")
	}
	logf("node back to %s after unrescue", n.ProvisionState)
	return nil
}
