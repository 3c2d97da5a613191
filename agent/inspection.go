package agent

import (
	"context"
	"time"

	"github.com/metalagent/metalagent/agent/commands"
	"github.com/metalagent/metalagent/agent/inspector"
	"github.com/metalagent/metalagent/agent/ironic"
	"github.com/metalagent/metalagent/agent/pluginhost"
	"github.com/metalagent/metalagent/agent/stages"
	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// inspect runs inspection before lookup, as IPA does, when the
// configuration asks for it (ipa-inspection-callback-url, or collectors
// and an API URL). A failure is logged and the boot goes on to lookup.
// The result is never nil: its Inventory (when set) is reused for lookup,
// its NodeUUID and Lookup feed it.
func (a *Agent) inspect(ctx context.Context, host *pluginhost.Host, deps *commands.Deps, st *stages.Tracker) *inspector.Result {
	managers := make([]sdk.Version, 0, len(host.Managers()))
	for _, m := range host.Managers() {
		managers = append(managers, m.Version)
	}
	log := a.log.Named("inspection")
	// Collectors left at their default do not turn inspection through
	// Ironic's own endpoint on: only a callback URL or collectors the
	// operator chose do.
	collectors := a.cfg.InspectionCollectors
	if _, chosen := a.cfg.Sources["inspection_collectors"]; !chosen {
		collectors = ""
	}
	opts := inspector.Options{
		CallbackURL:       a.cfg.InspectionCallbackURL,
		APIURL:            a.cfg.APIURL,
		Collectors:        collectors,
		DHCPWaitTimeout:   a.cfg.InspectionDHCPWaitTimeout,
		DHCPAllInterfaces: a.cfg.InspectionDHCPAllInterfaces,
		BootIF:            a.cfg.BootIF,
		Hardware:          host,
		Managers:          managers,
		Logs:              func(ctx context.Context) (string, error) { return deps.SystemLogsArchive(ctx, log) },
		HTTP:              a.httpClient(),
		RequestID:         a.cfg.GlobalRequestID,
		Logger:            log,
	}
	if a.cfg.Standalone || !opts.Enabled() {
		st.Skip(stages.Inspection, "not configured (no ipa-inspection-callback-url, no ipa-inspection-collectors)")
		return &inspector.Result{}
	}
	st.Start(stages.Inspection, "collectors", opts.Collectors, "callback_url", opts.CallbackURL)
	if a.cfg.APIURL != "" {
		opts.Ironic = &ironic.Client{BaseURL: a.cfg.APIURL, HTTP: opts.HTTP, RequestID: a.cfg.GlobalRequestID, Logger: a.log.Named("ironic")}
	}
	res, err := inspector.Run(ctx, opts)
	if err != nil {
		log.Error("inspection failed; proceeding with lookup", "error", err)
		st.Fail(stages.Inspection, err)
	} else {
		st.Done(stages.Inspection, "node", res.NodeUUID)
	}
	a.log.Info("stage done", "stage", "inspection", "ok", err == nil, "node", res.NodeUUID,
		"since_start", time.Since(a.started).Round(time.Microsecond))
	return res
}
