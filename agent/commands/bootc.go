package commands

import (
	"context"

	"github.com/hashicorp/go-hclog"

	"github.com/metalagent/metalagent/agent/ipa"
)

// registerBootc adds standby.execute_bootc_install (IPA 10.2+), which
// deploys a bootable container image with bootc. This agent version does
// not: the command is known, so that Ironic gets a FAILED result saying
// so rather than an unknown-command refusal.
func registerBootc(r *Runner) {
	r.Register("standby", "execute_bootc_install", Command{Async: true, Run: func(context.Context, hclog.Logger, Params) (any, error) {
		return nil, ipa.New("CommandExecutionError", "bootc deployment (execute_bootc_install) is not implemented by this agent version")
	}})
}
