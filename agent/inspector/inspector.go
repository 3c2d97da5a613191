package inspector

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/metalagent/metalagent/agent/ironic"
)

// Result is what an inspection gives the rest of the boot.
type Result struct {
	// NodeUUID is the node the inspector matched, for lookup; empty when
	// inspection failed.
	NodeUUID string
	// Lookup is Ironic's whole lookup answer when /v1/continue_inspection
	// gave one (API 1.84 and later): the agent can skip its lookup.
	Lookup *ironic.LookupResult
	// Inventory is the inventory the default collector sent, nil if it
	// did not run.
	Inventory map[string]any
}

// Error is a failed inspection: collectors that failed (the data were
// still sent) or an inspector that refused them.
type Error struct{ Msg string }

// Error returns the message.
func (e *Error) Error() string { return e.Msg }

// failures accumulates collector failures as IPA does: the payload's
// "error" lists them all.
type failures []string

func (f *failures) add(format string, args ...any) { *f = append(*f, fmt.Sprintf(format, args...)) }

// text is the payload's "error": nil without failures.
func (f failures) text() any {
	if len(f) == 0 {
		return nil
	}
	return "The following errors were encountered:\n* " + strings.Join(f, "\n* ")
}

// Run inspects the machine and posts the data, if o enables inspection
// (see Options.Enabled); otherwise it returns an empty result. The error
// says why inspection failed; the result's Inventory is set whenever the
// default collector ran, even then.
func Run(ctx context.Context, o Options) (*Result, error) {
	o = o.withDefaults()
	res := &Result{}
	url, ironicEndpoint := o.target()
	if url == "" {
		o.Logger.Info("inspection is disabled, skipping")
		return res, nil
	}
	names := o.collectorNames()
	log := o.Logger.With("callback_url", url, "boot_interface", orNull(o.BootIF))
	start := time.Now()
	log.Info("inspection starting", "collectors", names)

	var fails failures
	data := map[string]any{}
	if url == "mdns" {
		fails.add("inspection callback URL mdns: mDNS discovery is not supported by this agent; give the URL")
		log.Error("inspection failed", "error", fails.text())
		return res, &Error{Msg: fails.text().(string)}
	}
	run, unknown := pick(names)
	if len(unknown) > 0 {
		// IPA loads every collector first: one unknown name runs none and
		// posts only the error.
		fails.add("Failed to load collector %s (known: %s)", strings.Join(unknown, ", "), strings.Join(knownNames(), ", "))
		log.Error("inspection collector unknown; no collector runs", "unknown", unknown)
		run = nil
	}
	env := &env{o: o, log: log, names: names, data: data}
	for _, c := range run {
		env.added = nil
		cstart := time.Now()
		err := c.collect(ctx, env)
		d := time.Since(cstart).Round(time.Microsecond)
		if err != nil {
			fails.add("collector %s failed: %v", c.name, err)
			log.Error("inspection collector failed", "collector", c.name, "duration", d, "error", err)
			continue
		}
		log.Info("inspection collector done", "collector", c.name, "duration", d, "keys", env.added)
	}
	if inv, ok := data["inventory"].(map[string]any); ok {
		res.Inventory = inv
	}
	data["error"] = fails.text()

	post := &poster{o: o, url: url, ironic: ironicEndpoint, log: log}
	answer, err := post.send(ctx, data)
	var refused *StatusError
	if err != nil && !errors.As(err, &refused) { // a refusal is logged by the poster
		log.Error("inspection data not delivered, proceeding with lookup", "error", err, "duration", time.Since(start).Round(time.Millisecond))
	}
	if len(fails) > 0 {
		// As IPA, the collector failures are raised after the data were
		// sent, whatever the answer: no UUID is used for lookup.
		log.Error("inspection finished with collector failures; proceeding with lookup", "failures", len(fails),
			"duration", time.Since(start).Round(time.Millisecond))
		return res, &Error{Msg: fails.text().(string)}
	}
	if err != nil {
		return res, &Error{Msg: fmt.Sprintf("post inspection data: %v", err)}
	}
	res.NodeUUID, res.Lookup = answer.uuid, answer.lookup
	log.Info("inspection finished", "node", answer.uuid, "lookup_answered", answer.lookup != nil,
		"duration", time.Since(start).Round(time.Millisecond))
	return res, nil
}

func orNull(s string) any {
	if s == "" {
		return nil
	}
	return s
}
