//go:build e2e

package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"
)

// The bad-input phases run between provide and deploy. Each deploys a bad
// image with a fresh agent and proves that the failure is reported with a
// specific error and loses nothing: Ironic's last_error carries the
// agent's details, the agent survives and still answers its API, the
// conductor keeps the agent's logs, and the node can be recovered.

// wrongSHA256 is a well-formed sha256 that is not the image's: the digest
// of a fixed label.
func wrongSHA256() string {
	sum := sha256.Sum256([]byte("metalagent-e2e: not the image"))
	return hex.EncodeToString(sum[:])
}

// shortDownloadRetries keeps a failing download short in the bad-input
// boots (the agent's defaults are IPA's: 9 retries, 10 s apart).
var shortDownloadRetries = []string{"--image-download-connection-retries", "1", "--image-download-connection-retry-interval", "1"}

// failingDeployRound is a boot for a deployment that must end in deploy
// failed; the agent is held running there for inspection.
func failingDeployRound(name string, extraArgs []string) round {
	return round{name: name, wait: stateDeployWait, busy: stateDeploying, done: stateDeployFailed, fail: stateActive,
		hold: true, extraArgs: extraArgs}
}

// deployBadChecksum deploys the good image with a wrong sha256: the agent
// downloads and writes it, and its verification must fail the deploy.
func (r *rig) deployBadChecksum(ctx context.Context) error {
	wrong := wrongSHA256()
	return r.failedDeploy(ctx, "deploy-bad-checksum", r.images.url, wrong, "ImageChecksumError", []check{
		{"Ironic's last_error names the checksum failure with the expected and the actual sha256",
			r.lastErrorHas("checksum", wrong, r.image.sha256)},
		// Ironic leaves the node powered on after a failed deploy step, so
		// a real agent keeps heartbeating into deploy failed. One
		// heartbeat is enough to show that; deploy-image-404 saves the wait.
		{"the agent survives its next heartbeat in deploy failed and still answers", r.lastBootSurvivesHeartbeat},
	})
}

// deployImage404 first shows that Ironic itself refuses an image URL
// whose HEAD answers 404, then deploys from a URL whose HEAD succeeds but
// whose GET answers 404, so that the agent's download is what fails.
func (r *rig) deployImage404(ctx context.Context) error {
	if err := r.ironicRefusesMissingImage(ctx); err != nil {
		return err
	}
	before := r.images.count(http.MethodGet, headOnlyPath)
	disk, err := r.diskFingerprint(ctx)
	if err != nil {
		return err
	}
	return r.failedDeploy(ctx, "deploy-image-404", r.images.headOnlyURL, r.image.sha256, "ImageDownloadError", []check{
		{"Ironic's last_error names the failed download, HTTP 404 and the URL",
			r.lastErrorHas("Download of image", "404", r.images.headOnlyURL)},
		{"the agent's GET of the image was answered 404", func(context.Context) error {
			if r.images.count(http.MethodGet, headOnlyPath) <= before {
				return fmt.Errorf("no GET of %s; requests:\n%s", headOnlyPath, r.images.log())
			}
			return nil
		}},
		{"the failed download wrote nothing (the image's length and the last MiB of the disk are unchanged)", func(ctx context.Context) error {
			after, err := r.diskFingerprint(ctx)
			if err == nil && after != disk {
				err = errors.New("the disk changed")
			}
			return err
		}},
	})
}

// recoverNode takes the node from deploy failed back to available: deleted
// leads to cleaning with a fresh agent. Tearing down clears
// instance_info, so the good image is set again for the deploy phase.
func (r *rig) recoverNode(ctx context.Context) error {
	if err := r.api.setProvisionState(ctx, r.node, "deleted"); err != nil {
		return err
	}
	if _, err := r.agentRound(ctx, cleanRound("recover")); err != nil {
		return err
	}
	checks := append(r.imageErasedChecks(),
		check{"the good image is set again (instance_info)", func(ctx context.Context) error {
			n, err := r.api.getNode(ctx, r.node)
			if err != nil {
				return err
			}
			logf("instance_info after the teardown: %v", n.InstanceInfo)
			if err := r.setInstanceInfo(ctx); err != nil {
				return err
			}
			if n, err = r.api.getNode(ctx, r.node); err != nil {
				return err
			}
			if n.InstanceInfo["image_source"] != r.images.url || n.InstanceInfo["image_os_hash_value"] != r.image.sha256 {
				return fmt.Errorf("instance_info is %v", n.InstanceInfo)
			}
			return nil
		}})
	return runChecks(ctx, checks)
}

// failedDeploy points the node at url with digest sha, requests active
// and boots a fresh agent (with short download retries) when the node
// waits for it. The node must end in deploy failed. Then, with the agent
// still running, it runs the common checks (the agent answers, its
// execute_deploy_step failed with errType, the conductor kept its logs)
// and extra, and powers the node off.
func (r *rig) failedDeploy(ctx context.Context, name, url, sha, errType string, extra []check) error {
	if err := r.pointAtImage(ctx, url, sha); err != nil {
		return err
	}
	logsBefore := r.ironic.deployLogs()
	if err := r.api.setProvisionState(ctx, r.node, "active"); err != nil {
		return err
	}
	boot, err := r.agentRound(ctx, failingDeployRound(name, shortDownloadRetries))
	if err != nil {
		return err
	}
	defer func() {
		boot.powerOff("bad-input phase done: simulated power-off")
		logf("FIGURE boot=%s %s", name, bootFigures(boot.logPath))
	}()
	n, err := r.api.getNode(ctx, r.node)
	if err != nil {
		return err
	}
	logf("last_error: %s", orNone(str(n.LastError)))
	return runChecks(ctx, append([]check{
		{"the agent is still running and answers GET /v1/status", r.agentAnswers(boot)},
		{"the agent lists execute_deploy_step as FAILED with " + errType, r.failedStepCommand(boot, errType)},
		{"the conductor stored the agent's logs of the failed deployment", r.deployLogsCheck(logsBefore)},
	}, extra...))
}

// ironicRefusesMissingImage shows that Ironic checks the image URL itself
// (a HEAD in the deploy interface's prepare) and fails the deploy before
// any agent boots when that HEAD answers 404. This is why
// deploy-image-404 uses a URL whose HEAD succeeds.
func (r *rig) ironicRefusesMissingImage(ctx context.Context) error {
	if err := r.pointAtImage(ctx, r.images.missingURL, r.image.sha256); err != nil {
		return err
	}
	heads := r.images.count(http.MethodHead, missingPath)
	if err := r.api.setProvisionState(ctx, r.node, "active"); err != nil {
		return err
	}
	n, err := r.tracker.waitFor(ctx, waitSpec{want: stateDeployFailed, after: time.Now(),
		failOn: []string{stateDeployWait, stateActive, stateError}, timeout: time.Minute})
	if err != nil {
		return fmt.Errorf("Ironic did not refuse an image whose HEAD answers 404 on its own: %w", err)
	}
	logf("last_error: %s", orNone(str(n.LastError)))
	if err := r.lastErrorHas("HEAD", "404", r.images.missingURL)(ctx); err != nil {
		return err
	}
	if r.images.count(http.MethodHead, missingPath) <= heads {
		return fmt.Errorf("Ironic did not HEAD %s; requests:\n%s", r.images.missingURL, r.images.log())
	}
	if n := r.images.count(http.MethodGet, missingPath); n > 0 {
		return fmt.Errorf("%d GET requests of %s although no agent ran", n, missingPath)
	}
	logf("check ok:   Ironic failed the deploy itself after its HEAD of %s answered 404, before any agent boot", r.images.missingURL)
	return nil
}

// diskFingerprint is the sha256 of the disk's first image length and its
// last MiB: where a write of the image or of its backup GPT would land.
func (r *rig) diskFingerprint(ctx context.Context) (string, error) {
	h := sha256.New()
	for _, br := range []byteRange{{"image length", 0, imageSize}, {"last MiB", diskSize - mib, mib}} {
		b, err := r.disk.readAt(ctx, br.offset, int(br.len))
		if err != nil {
			return "", err
		}
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// lastErrorHas returns a check that the node's last_error contains every
// one of parts (case-insensitively).
func (r *rig) lastErrorHas(parts ...string) func(context.Context) error {
	return func(ctx context.Context) error {
		n, err := r.api.getNode(ctx, r.node)
		if err != nil {
			return err
		}
		le := str(n.LastError)
		for _, p := range parts {
			if !strings.Contains(strings.ToLower(le), strings.ToLower(p)) {
				return fmt.Errorf("last_error lacks %q: %s", p, orNone(le))
			}
		}
		return nil
	}
}

// agentAnswers returns a check that the boot's agent process still runs
// and answers GET /v1/status.
func (r *rig) agentAnswers(b *agentBoot) func(context.Context) error {
	return func(ctx context.Context) error {
		if b.proc.exited() {
			return fmt.Errorf("agent boot %q is gone: %s", b.name, b.proc.exitStatus())
		}
		var status map[string]any
		if err := b.getJSON(ctx, "/v1/status", &status); err != nil {
			return err
		}
		logf("agent status: %v", status)
		return nil
	}
}

// lastBootSurvivesHeartbeat waits for the next heartbeat line in the
// latest boot's log (the agent logs every heartbeat, accepted or not)
// and checks that the agent still runs and answers afterwards.
func (r *rig) lastBootSurvivesHeartbeat(ctx context.Context) error {
	b := r.boots[len(r.boots)-1]
	st, err := os.Stat(b.logPath)
	if err != nil {
		return err
	}
	from := st.Size()
	deadline := time.Now().Add(2 * ramdiskHeartbeatTimeout * time.Second)
	for {
		data, err := os.ReadFile(b.logPath)
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(data[from:]), "\n") {
			if strings.Contains(line, "metalagent.heartbeat:") {
				logf("agent's heartbeat in deploy failed: %s", line)
				return r.agentAnswers(b)(ctx)
			}
		}
		if b.proc.exited() {
			return fmt.Errorf("agent boot %q ended (%s) without another heartbeat", b.name, b.proc.exitStatus())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("agent boot %q logged no heartbeat within %ds", b.name, 2*ramdiskHeartbeatTimeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// agentCommand is one entry of the agent's GET /v1/commands/.
type agentCommand struct {
	ID           string `json:"id"`
	Name         string `json:"command_name"`
	Status       string `json:"command_status"`
	CommandError *struct {
		Type    string `json:"type"`
		Code    int    `json:"code"`
		Message string `json:"message"`
		Details string `json:"details"`
	} `json:"command_error"`
}

// failedStepCommand returns a check that the agent's last
// execute_deploy_step command FAILED with an error of class errType.
func (r *rig) failedStepCommand(b *agentBoot, errType string) func(context.Context) error {
	return func(ctx context.Context) error {
		var list struct {
			Commands []agentCommand `json:"commands"`
		}
		if err := b.getJSON(ctx, "/v1/commands/", &list); err != nil {
			return err
		}
		var last *agentCommand
		var names []string
		for i, c := range list.Commands {
			names = append(names, c.Name+"="+c.Status)
			if c.Name == "execute_deploy_step" {
				last = &list.Commands[i]
			}
		}
		switch {
		case last == nil:
			return fmt.Errorf("no execute_deploy_step among the agent's commands %v", names)
		case last.Status != "FAILED":
			return fmt.Errorf("execute_deploy_step is %s, want FAILED (commands %v)", last.Status, names)
		case last.CommandError == nil:
			return fmt.Errorf("execute_deploy_step FAILED without a command_error")
		case last.CommandError.Type != errType:
			return fmt.Errorf("command_error.type is %q, want %q (%s: %s)", last.CommandError.Type, errType,
				last.CommandError.Message, last.CommandError.Details)
		}
		logf("agent command %s: %s, %s (%d %s): %s", last.ID, last.Status, last.CommandError.Type,
			last.CommandError.Code, last.CommandError.Message, last.CommandError.Details)
		return nil
	}
}
