package agent

import (
	"context"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/metalagent/metalagent/agent/stages"
)

// diskWaitStage runs IPA's wait for a disk to install on (waitForDisks)
// as the disk-wait stage: each probe after the first is a retry of the
// stage. Running out of attempts fails the stage without stopping the
// boot, as IPA goes on; only ctx ending is an error.
func (a *Agent) diskWaitStage(ctx context.Context, st *stages.Tracker, probe func(context.Context) (string, error)) error {
	attempts := a.cfg.DiskWaitAttempts
	if attempts <= 0 {
		st.Skip(stages.DiskWait, "ipa-disk-wait-attempts is 0")
		return nil
	}
	var probes int
	var dev string
	var last error
	err := waitForDisks(ctx, a.log, attempts, a.cfg.DiskWaitDelay, func(ctx context.Context) (string, error) {
		probes++
		if probes == 1 {
			st.Start(stages.DiskWait, "attempts", attempts, "delay", a.cfg.DiskWaitDelay.String())
		} else {
			st.Retry(stages.DiskWait, last)
		}
		dev, last = probe(ctx)
		return dev, last
	})
	switch {
	case err != nil:
		st.Fail(stages.DiskWait, err)
		return err
	case errors.Is(last, errNoInstallDeviceMethod):
		st.Skip(stages.DiskWait, "no hardware manager implements get_os_install_device")
	case last != nil:
		st.Fail(stages.DiskWait, fmt.Errorf("no disk to install on after %d attempts (going on, as IPA does): %w", probes, last),
			"allowed_disks", a.cfg.AllowedDisks)
	default:
		st.Done(stages.DiskWait, "device", dev)
	}
	return nil
}

// networkStage checks that the machine has a network (see judgeNetwork).
// A failure is reported, not fatal: lookup retries, and rechecks it.
func (a *Agent) networkStage(ctx context.Context, st *stages.Tracker) {
	st.Start(stages.Network)
	details, err := checkNetwork(ctx, a.cfg.APIURL)
	if err != nil {
		st.Fail(stages.Network, err, details...)
		return
	}
	st.Done(stages.Network, details...)
}

// recheckNetwork checks a failed network stage again (after a failed
// lookup), marking it done once the network is up.
func (a *Agent) recheckNetwork(ctx context.Context, st *stages.Tracker) {
	if st.State(stages.Network) != stages.Failed {
		return
	}
	if details, err := checkNetwork(ctx, a.cfg.APIURL); err == nil {
		st.Done(stages.Network, details...)
	}
}

// maxStatusMessage bounds the heartbeat's agent_status_message: Ironic
// stores it in the node's driver_internal_info with every heartbeat.
const maxStatusMessage = 1000

// statusMessage is the heartbeat's agent_status_message: the agent's
// version and the boot stages' summary, cut to maxStatusMessage bytes.
func statusMessage(st *stages.Tracker) string {
	msg := "metalagent " + Version + ": " + st.Summary()
	if len(msg) <= maxStatusMessage {
		return msg
	}
	cut := maxStatusMessage - len("…")
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + "…"
}
