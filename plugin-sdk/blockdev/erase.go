package blockdev

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/go-hclog"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// CheckAll runs check (usually Checker.CheckNotInUse) on every named
// device before any is written, as IPA's erase steps do: when one is in
// use the whole step stops with a ProtectedDeviceError naming them all and
// nothing is written. Devices that cannot be checked come back in
// unchecked, to be reported as failures and left untouched; the others
// come back in ok, in order.
func CheckAll(log hclog.Logger, step string, names []string, check func(name string) error) (ok []string, unchecked map[string]error, err error) {
	unchecked = map[string]error{}
	var protected []string
	for _, name := range names {
		err := check(name)
		switch {
		case err == nil:
			ok = append(ok, name)
		case sdk.TypeOf(err) == "ProtectedDeviceError":
			log.Error("refusing to erase a device in use", "device", name, "error", err)
			protected = append(protected, err.Error())
		default:
			log.Error("cannot check whether the device is in use", "device", name, "error", err)
			unchecked[name] = fmt.Errorf("check whether in use: %w", err)
		}
	}
	if len(protected) > 0 {
		return nil, nil, sdk.HardwareError("ProtectedDeviceError", "%s: nothing was erased: %s", step, strings.Join(protected, "; "))
	}
	return ok, unchecked, nil
}

// EraseError joins per-device failures into IPA's BlockDeviceEraseError
// ("Failed to conduct <what> on device(s): ..."), or returns nil when
// there are none.
func EraseError(what string, failures map[string]error) error {
	if len(failures) == 0 {
		return nil
	}
	names := make([]string, 0, len(failures))
	for n := range failures {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%q: %v", n, failures[n]))
	}
	return sdk.HardwareError("BlockDeviceEraseError", "Failed to conduct %s on device(s): %s", what, strings.Join(parts, ", "))
}
