package sdktest

import (
	"os/exec"
	"syscall"
)

// setPdeathsig makes the plugin die with the test binary, as the host makes
// it die with the agent.
func setPdeathsig(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
