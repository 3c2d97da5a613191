//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// The self-check (METALAGENT_E2E_IRONIC_ONLY=1) proves the Ironic side of
// the rig without an agent: the node reaches each state in which an agent
// would boot, and Ironic's lookup answers there with the node and a fresh
// agent token. The test only looks the node up; it never heartbeats.

// lookupInCleanWait: provide → clean wait → lookup → abort → manageable.
func (r *rig) lookupInCleanWait(ctx context.Context) error {
	if err := r.api.setProvisionState(ctx, r.node, "provide"); err != nil {
		return err
	}
	if _, err := r.tracker.waitFor(ctx, waitSpec{want: stateCleanWait, failOn: []string{stateCleanFailed}, timeout: 2 * time.Minute}); err != nil {
		return err
	}
	if _, err := r.lookupProbe(ctx); err != nil {
		return err
	}
	if err := r.api.setProvisionState(ctx, r.node, "abort"); err != nil {
		return fmt.Errorf("abort cleaning: %w", err)
	}
	if _, err := r.tracker.waitFor(ctx, waitSpec{want: stateCleanFailed, timeout: time.Minute}); err != nil {
		return err
	}
	if err := r.api.setProvisionState(ctx, r.node, "manage"); err != nil {
		return err
	}
	_, err := r.tracker.waitFor(ctx, waitSpec{want: stateManageable, timeout: time.Minute})
	return err
}

// lookupInDeployWait: provide without cleaning → available → deploy →
// wait call-back → lookup → deleted → available.
func (r *rig) lookupInDeployWait(ctx context.Context) error {
	if err := r.api.patchNode(ctx, r.node, []patchOp{{Op: "replace", Path: "/automated_clean", Value: false}}); err != nil {
		return err
	}
	if err := r.api.setProvisionState(ctx, r.node, "provide"); err != nil {
		return err
	}
	if _, err := r.tracker.waitFor(ctx, waitSpec{want: stateAvailable, failOn: []string{stateCleanFailed}, timeout: time.Minute}); err != nil {
		return err
	}
	heads := r.images.log()
	if err := r.setInstanceInfo(ctx); err != nil {
		return err
	}
	if err := r.api.setProvisionState(ctx, r.node, "active"); err != nil {
		return err
	}
	if _, err := r.tracker.waitFor(ctx, waitSpec{want: stateDeployWait, failOn: []string{stateDeployFailed}, timeout: 2 * time.Minute}); err != nil {
		return err
	}
	res, err := r.lookupProbe(ctx)
	if err != nil {
		return err
	}
	if got := res.Node.InstanceInfo["image_source"]; got != r.images.url {
		return fmt.Errorf("lookup instance_info.image_source = %v, want %s", got, r.images.url)
	}
	logf("lookup instance_info: %v", res.Node.InstanceInfo)
	if log := r.images.log(); log == heads {
		return fmt.Errorf("Ironic never checked the image URL (expected a HEAD request)")
	} else {
		logf("image server requests so far:\n%s", log)
	}
	if err := r.api.setProvisionState(ctx, r.node, "deleted"); err != nil {
		return err
	}
	_, err = r.tracker.waitFor(ctx, waitSpec{want: stateAvailable, failOn: []string{stateError}, timeout: 2 * time.Minute})
	return err
}

// lookupProbe looks the node up by its port's MAC as an agent would and
// checks the answer; a second lookup must hide the token.
func (r *rig) lookupProbe(ctx context.Context) (*lookupResult, error) {
	res, err := r.api.lookup(ctx, r.mac)
	if err != nil {
		return nil, err
	}
	if res.Node.UUID != r.node {
		return nil, fmt.Errorf("lookup returned node %q, want %s", res.Node.UUID, r.node)
	}
	token, _ := res.Config["agent_token"].(string)
	if len(token) < 32 {
		return nil, fmt.Errorf("lookup returned agent_token %q, want a fresh token", token)
	}
	if hb, _ := res.Config["heartbeat_timeout"].(float64); hb != ramdiskHeartbeatTimeout {
		return nil, fmt.Errorf("lookup heartbeat_timeout = %v, want %d", res.Config["heartbeat_timeout"], ramdiskHeartbeatTimeout)
	}
	var keys []string
	for k := range res.Config {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	logf("lookup: node %s, agent_token of %d characters, config keys %v", res.Node.UUID, len(token), keys)
	again, err := r.api.lookup(ctx, r.mac)
	if err != nil {
		return nil, err
	}
	if t, _ := again.Config["agent_token"].(string); t != "******" {
		return nil, fmt.Errorf("second lookup returned agent_token %q, want it masked", t)
	}
	return res, nil
}
