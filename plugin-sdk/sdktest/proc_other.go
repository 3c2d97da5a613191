//go:build !linux

package sdktest

import "os/exec"

// setPdeathsig does nothing where the kernel has no parent-death signal.
func setPdeathsig(*exec.Cmd) {}
