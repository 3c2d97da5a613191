package commands

import (
	"context"

	"github.com/hashicorp/go-hclog"
)

func registerPoll(r *Runner, d *Deps) {
	r.Register("poll", "get_hardware_info", Command{Run: func(ctx context.Context, _ hclog.Logger, _ Params) (any, error) {
		return d.Host.Inventory(ctx)
	}})
}
