package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/metalagent/metalagent/agent/ipa"
	"github.com/metalagent/metalagent/agent/pluginhost"
	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// sleepCtx pauses for d, or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// errNoInstallDeviceMethod: no manager implements get_os_install_device.
var errNoInstallDeviceMethod = errors.New("no hardware manager implements get_os_install_device")

// waitForDisks waits, as IPA's generic manager does when it starts, until
// probe finds a disk to install on: up to attempts tries, delay apart.
// Running out of attempts is only logged; attempts 0 does not probe at
// all, and neither is there a wait when no manager can answer (in IPA the
// wait is the generic manager's). Only ctx ending is an error.
func waitForDisks(ctx context.Context, log hclog.Logger, attempts int, delay time.Duration, probe func(context.Context) (string, error)) error {
	for i := 1; i <= attempts; i++ {
		dev, err := probe(ctx)
		switch {
		case err == nil:
			log.Debug("install disk found", "device", dev, "attempt", i)
			return nil
		case errors.Is(err, errNoInstallDeviceMethod):
			log.Debug("no disk wait: " + err.Error())
			return nil
		case ctx.Err() != nil:
			return fmt.Errorf("wait for disks: %w", ctx.Err())
		}
		log.Debug("still waiting for a disk to install on", "attempt", i, "attempts", attempts, "reason", err)
		if i < attempts {
			if err := sleepCtx(ctx, delay); err != nil {
				return fmt.Errorf("wait for disks: %w", err)
			}
		}
	}
	if attempts > 0 {
		log.Warn("no disk to install on was found; going on", "attempts", attempts, "waited", delay*time.Duration(attempts-1))
	}
	return nil
}

// installDiskProbe asks the managers for the install device without a
// node (so without root device hints), as IPA's wait does.
func installDiskProbe(host *pluginhost.Host) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		res, err := host.Dispatch(ctx, sdk.ExecuteRequest{Method: sdk.MethodGetOSInstallDevice, Args: json.RawMessage("{}")})
		var ierr *ipa.Error
		if errors.As(err, &ierr) && ierr.Type == "HardwareManagerMethodNotFound" {
			return "", errNoInstallDeviceMethod
		}
		if err != nil {
			return "", err
		}
		var dev string
		if err := json.Unmarshal(res, &dev); err != nil || dev == "" {
			return "", fmt.Errorf("get_os_install_device answered %s, not a device", res)
		}
		return dev, nil
	}
}
