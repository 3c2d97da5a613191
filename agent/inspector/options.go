package inspector

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/metalagent/metalagent/agent/ironic"
	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// DefaultCollectors are IPA's inspection_collectors default.
const DefaultCollectors = "default,logs"

// Defaults of IPA's POST rule: 5 attempts, 5 s apart.
const (
	defaultAttempts      = 5
	defaultRetryInterval = 5 * time.Second
	defaultDHCPPoll      = 2 * time.Second
)

// Hardware is what the collectors need of the plugin host.
type Hardware interface {
	// Inventory returns the merged inventory of every manager.
	Inventory(ctx context.Context) (map[string]any, error)
	// Dispatch runs a hardware method on the highest manager that
	// implements it.
	Dispatch(ctx context.Context, req sdk.ExecuteRequest) (json.RawMessage, error)
}

// Options configure one inspection.
type Options struct {
	// CallbackURL is ironic-inspector's /v1/continue URL
	// (ipa-inspection-callback-url).
	CallbackURL string
	// APIURL is Ironic's API URL: without a CallbackURL but with
	// Collectors set, the data go to APIURL/v1/continue_inspection, as
	// newer IPA does.
	APIURL string
	// Collectors is the comma-separated collector list as configured;
	// empty means DefaultCollectors.
	Collectors string
	// DHCPWaitTimeout bounds the default collector's wait for an IPv4
	// address on the PXE interface (all interfaces with
	// DHCPAllInterfaces); 0 does not wait. DHCPPollInterval is the time
	// between looks (2 s when zero).
	DHCPWaitTimeout   time.Duration
	DHCPAllInterfaces bool
	DHCPPollInterval  time.Duration
	// BootIF is the raw BOOTIF kernel parameter.
	BootIF string
	// Hardware is the plugin host.
	Hardware Hardware
	// Managers are the hardware managers in use, in dispatch order, for
	// the payload's configuration.managers.
	Managers []sdk.Version
	// Logs returns the log bundle (base64 of a gzipped tar) for the logs
	// collector.
	Logs func(ctx context.Context) (string, error)
	// HTTP sends the POST; RequestID, when set, goes along as
	// X-OpenStack-Request-ID.
	HTTP      *http.Client
	RequestID string
	// Ironic discovers Ironic's API version for continue_inspection; nil
	// sends no version header.
	Ironic *ironic.Client
	// Attempts and RetryInterval are the POST's retry rule (5 and 5 s when
	// zero).
	Attempts      int
	RetryInterval time.Duration
	// SysRoot is where sysfs is mounted ("/sys" when empty); tests point
	// it at fixtures.
	SysRoot string
	// Logger receives the stage lines.
	Logger hclog.Logger

	// listNICs replaces the system's interface list in tests.
	listNICs func() ([]nic, error)
}

// collectorNames returns the configured collector names, in order.
func (o Options) collectorNames() []string {
	raw := o.Collectors
	if strings.TrimSpace(raw) == "" {
		raw = DefaultCollectors
	}
	var out []string
	for _, n := range strings.Split(raw, ",") {
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, n)
		}
	}
	return out
}

// target returns where the data go and whether that is Ironic's own
// endpoint; an empty URL means inspection is off.
func (o Options) target() (url string, ironicEndpoint bool) {
	if o.CallbackURL != "" {
		return o.CallbackURL, false
	}
	if strings.TrimSpace(o.Collectors) != "" && o.APIURL != "" {
		return strings.TrimRight(o.APIURL, "/") + "/v1/continue_inspection", true
	}
	return "", false
}

// Enabled reports whether inspection runs with these options: with a
// callback URL (IPA 9.4), or with collectors set explicitly and an Ironic
// API URL (newer IPA).
func (o Options) Enabled() bool {
	u, _ := o.target()
	return u != ""
}

func (o Options) withDefaults() Options {
	if o.Attempts <= 0 {
		o.Attempts = defaultAttempts
	}
	if o.RetryInterval <= 0 {
		o.RetryInterval = defaultRetryInterval
	}
	if o.DHCPPollInterval <= 0 {
		o.DHCPPollInterval = defaultDHCPPoll
	}
	if o.SysRoot == "" {
		o.SysRoot = "/sys"
	}
	if o.HTTP == nil {
		o.HTTP = &http.Client{Timeout: 60 * time.Second}
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	return o
}
