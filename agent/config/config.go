// Package config builds the agent's configuration as IPA does: kernel
// parameters are the defaults; IPA's config files
// (/etc/ironic-python-agent.conf, then the *.conf of
// /etc/ironic-python-agent.conf.d and /etc/ironic-python-agent.d,
// oslo.config INI) override them; metalagent's own file
// (/etc/metalagent/metalagent.conf, same format) overrides those; flags on
// the command line override everything. docs/ipa-compatibility.md lists
// every option.
package config

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// Config is the agent's whole configuration. Durations given in seconds
// by IPA's options are time.Durations here.
type Config struct {
	// APIURL is Ironic's API base URL (no /v1, no trailing slash): the
	// first of APIURLs.
	APIURL string
	// APIURLs are every URL of api_url (IPA 9.5+ takes a comma-separated
	// list and tries each in turn; this agent uses the first).
	APIURLs []string
	// GlobalRequestID is sent as X-OpenStack-Request-ID to Ironic.
	GlobalRequestID string
	// IronicAPIVersion, when set, replaces the discovery of Ironic's API
	// microversion.
	IronicAPIVersion string
	// HTTPRequestTimeout bounds connecting to Ironic.
	HTTPRequestTimeout time.Duration
	// Insecure skips TLS verification of Ironic and image servers.
	Insecure bool
	// CAFile, CertFile and KeyFile are the CA bundle and client
	// certificate for outgoing HTTPS (read only).
	CAFile, CertFile, KeyFile string
	// AgentToken is a pre-shared agent token, used when lookup hands out
	// none.
	AgentToken string
	// AgentTokenRequired enforces the token on commands even when Ironic
	// does not ask for it (IPA 9.4; later IPA always enforces it).
	AgentTokenRequired bool

	// ListenHost and ListenPort are where the agent's API listens.
	ListenHost string
	ListenPort int
	// TLS of the agent API. ListenTLS serves it with the operator's
	// TLSCertFile and TLSKeyFile (IPA's listen_tls); otherwise
	// EnableAutoTLS generates a certificate when Ironic's API is at least
	// 1.68, back-dated by AutoTLSAllowedClockSkew, on TLSCertificateCurve,
	// written to TLSDir. TLSMinVersion is "1.2" or "1.3". TLSCipherSuites
	// is read only: the API offers a fixed AEAD set.
	ListenTLS               bool
	TLSCertFile, TLSKeyFile string
	EnableAutoTLS           bool
	AutoTLSAllowedClockSkew time.Duration
	TLSMinVersion           string
	TLSCipherSuites         string
	TLSCertificateCurve     string
	TLSDir                  string
	// AdvertiseHost and AdvertisePort go into the heartbeat's callback URL;
	// an empty AdvertiseHost is detected: NetworkInterface's IPv4 address
	// if set, else the source address of the route to Ironic, tried
	// IPLookupAttempts times IPLookupSleep apart.
	AdvertiseHost    string
	AdvertisePort    int
	IPLookupAttempts int
	IPLookupSleep    time.Duration
	NetworkInterface string
	// AdvertiseProtocol is the callback URL's scheme.
	AdvertiseProtocol string

	// LookupTimeout is how long lookup is retried before the agent exits;
	// LookupInterval is the first retry interval.
	LookupTimeout  time.Duration
	LookupInterval time.Duration

	// HardwareInitializationDelay is a pause after the hardware managers
	// start.
	HardwareInitializationDelay time.Duration
	// DiskWaitAttempts is how many times the agent looks for a disk to
	// install on before the inventory (0: it does not wait), DiskWaitDelay
	// apart.
	DiskWaitAttempts int
	DiskWaitDelay    time.Duration
	// CollectLLDP and LLDPTimeout ask the plugins to collect LLDP frames.
	CollectLLDP bool
	LLDPTimeout time.Duration
	// EnableVLANInterfaces, NTPServer and FailIfClockNotSet are read only.
	EnableVLANInterfaces string
	NTPServer            string
	FailIfClockNotSet    bool
	// Debug turns on debug logging.
	Debug bool
	// BootIF is the raw BOOTIF kernel parameter (see BootIFMAC).
	BootIF string
	// BootMethod is the boot_method kernel parameter (read only).
	BootMethod string

	// InspectionCallbackURL, InspectionCollectors,
	// InspectionDHCPWaitTimeout, InspectionDHCPAllInterfaces and
	// InspectionBenchmarks configure inspection (read only).
	InspectionCallbackURL       string
	InspectionCollectors        string
	InspectionDHCPWaitTimeout   time.Duration
	InspectionDHCPAllInterfaces bool
	InspectionBenchmarks        []string
	// UseMDNS allows discovering Ironic by mDNS (read only).
	UseMDNS bool

	// Image download knobs.
	ImageDownloadConnectionTimeout       time.Duration
	ImageDownloadConnectionRetries       int
	ImageDownloadConnectionRetryInterval time.Duration
	// ImageDownloadMaxDuration, ImageServerUser, ImageServerPassword,
	// ImageServerAuthStrategy, MD5Enabled, DisableDeepImageInspection and
	// PermittedImageFormats are read only.
	ImageDownloadMaxDuration   time.Duration
	ImageServerUser            string
	ImageServerPassword        string
	ImageServerAuthStrategy    string
	MD5Enabled                 bool
	DisableDeepImageInspection bool
	PermittedImageFormats      []string
	// IgnoreBootloaderFailure makes install_bootloader failures warnings.
	IgnoreBootloaderFailure bool
	// InjectFilesPriority, GuardSpecialFilesystems, ConfigDriveRebuild,
	// EnableBIOSBootloaderInstall and DisableBootcDeploy are read only.
	InjectFilesPriority         int
	GuardSpecialFilesystems     bool
	ConfigDriveRebuild          bool
	EnableBIOSBootloaderInstall bool
	DisableBootcDeploy          bool

	// Standalone serves the API without lookup or heartbeats.
	Standalone bool
	// SimulatePower answers power-off and reboot requests, then exits,
	// instead of acting on the machine.
	SimulatePower bool
	// Sandbox, when set, is the directory where actions that change the
	// machine are recorded instead of done (see package sandbox); it
	// implies SimulatePower.
	Sandbox string
	// PluginDirs are the directories searched for plugin executables.
	PluginDirs []string
	// AllowedDisks limits the block devices the agent may see and touch.
	AllowedDisks []string
	// PluginStartTimeout bounds a plugin's launch and handshake;
	// PluginCallTimeout bounds support, version, inventory and step-list
	// calls and hardware methods; PluginStepTimeout bounds a step (0: no
	// bound beyond the command's own).
	PluginStartTimeout time.Duration
	PluginCallTimeout  time.Duration
	PluginStepTimeout  time.Duration
	// PluginGOMAXPROCS is set in each plugin's environment (0: not set).
	PluginGOMAXPROCS int
	// PluginMaxCrashes crashes or hangs of a plugin within
	// PluginCrashWindow mark it failed.
	PluginMaxCrashes  int
	PluginCrashWindow time.Duration
	// RequirePluginManifest refuses the plugins of a directory without a
	// manifest.json.
	RequirePluginManifest bool

	// CmdlineFile is where kernel parameters are read from.
	CmdlineFile string
	// ConfigFiles and ConfigDirs are IPA's config files and directories
	// (--config-file, --config-dir as in oslo.config); MetalagentConfig is
	// metalagent's own file.
	ConfigFiles      []string
	ConfigDirs       []string
	MetalagentConfig string

	// KernelParams are every key=value kernel parameter, as read.
	KernelParams map[string]string
	// Sources says, for each option not at its default, where its value
	// came from: "kernel parameter ipa-x", "FILE:LINE" or "flag --x";
	// keyed by the option's name (api_url).
	Sources map[string]string
	// Warnings are what the agent should log about its configuration:
	// options read that have no effect, unknown options.
	Warnings []Warning

	// Metrics serves Prometheus metrics at /metrics on MetricsAddress
	// (host:port), without authentication.
	Metrics        bool
	MetricsAddress string
	// LogFormat is "text" (hclog's) or "json" (one JSON object a line).
	LogFormat string

	// values are the options' values bound to the fields above.
	values map[*option]value
}

// Warning is a problem in the configuration that does not stop the agent.
type Warning struct {
	// Source is where the setting was read: a kernel parameter, FILE:LINE
	// or a flag.
	Source string
	// Option is the option's name, or the unknown key.
	Option string
	// Problem says what is wrong and what the agent does instead.
	Problem string
}

// ErrHelp is returned by Parse when help was asked for; the usage has been
// printed.
var ErrHelp = pflag.ErrHelp

// Parse builds the configuration from args (without the program name),
// the kernel command line and the config files.
func Parse(name string, args []string) (*Config, error) {
	c, rest, err := ParseCommand(name, args, nil)
	if err != nil {
		return nil, err
	}
	if len(rest) > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(rest, " "))
	}
	return c, nil
}

// ParseCommand is Parse for a subcommand: extra, when not nil, adds the
// subcommand's own flags to the set, and the positional arguments are
// returned instead of refused.
func ParseCommand(name string, args []string, extra func(*pflag.FlagSet)) (*Config, []string, error) {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	// oslo.config's flags are spelled with underscores (--api_url).
	fs.SetNormalizeFunc(func(_ *pflag.FlagSet, n string) pflag.NormalizedName {
		return pflag.NormalizedName(strings.ReplaceAll(n, "_", "-"))
	})
	c := &Config{Sources: map[string]string{}, values: map[*option]value{}}
	l := &layers{c: c, final: map[*option]setting{}}
	for _, o := range options {
		v := o.bind(c)
		c.values[o] = v
		fs.Var(v, o.flagName(), o.fullUsage())
		if v.Type() == "bool" {
			fs.Lookup(o.flagName()).NoOptDefVal = "true"
		}
	}
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	if err := l.read(fs); err != nil {
		return nil, nil, err
	}
	if err := c.finish(); err != nil {
		return nil, nil, err
	}
	return c, fs.Args(), nil
}

// finish derives fields and refuses settings that cannot work.
func (c *Config) finish() error {
	if len(c.APIURLs) > 0 {
		c.APIURL = strings.TrimRight(c.APIURLs[0], "/")
		if len(c.APIURLs) > 1 {
			c.warn(c.Sources["api_url"], "api_url", fmt.Sprintf("%d URLs given; this agent version uses only the first, %s", len(c.APIURLs), c.APIURL))
		}
	}
	if c.Sandbox != "" {
		c.SimulatePower = true
	}
	if err := c.checkPluginSettings(); err != nil {
		return err
	}
	if err := c.checkTLSSettings(); err != nil {
		return err
	}
	if err := c.checkObservability(); err != nil {
		return err
	}
	switch {
	case !c.Standalone && c.APIURL == "":
		return errors.New("no Ironic API URL: give --api-url, the ipa-api-url kernel parameter or api_url in a config file, or run with --standalone")
	case c.APIURL == "mdns":
		return fmt.Errorf("api url mdns (%s): %s; give the URL", c.Sources["api_url"], noMDNS)
	}
	return nil
}

func (c *Config) warn(source, option, problem string) {
	c.Warnings = append(c.Warnings, Warning{Source: source, Option: option, Problem: problem})
}

// checkPluginSettings refuses plugin deadlines and crash limits that
// cannot work.
func (c *Config) checkPluginSettings() error {
	switch {
	case c.PluginStartTimeout <= 0:
		return fmt.Errorf("plugin start timeout %s: must be positive", c.PluginStartTimeout)
	case c.PluginCallTimeout <= 0:
		return fmt.Errorf("plugin call timeout %s: must be positive", c.PluginCallTimeout)
	case c.PluginStepTimeout < 0:
		return fmt.Errorf("plugin step timeout %s: must be 0 (no limit) or positive", c.PluginStepTimeout)
	case c.PluginMaxCrashes < 1:
		return fmt.Errorf("plugin max crashes %d: must be at least 1", c.PluginMaxCrashes)
	case c.PluginCrashWindow <= 0:
		return fmt.Errorf("plugin crash window %s: must be positive", c.PluginCrashWindow)
	}
	return nil
}

// checkObservability refuses an unknown log format and, when metrics are
// on, an address that is not host:port.
func (c *Config) checkObservability() error {
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return fmt.Errorf("log format %q: must be text or json", c.LogFormat)
	}
	if c.Metrics {
		if _, port, err := net.SplitHostPort(c.MetricsAddress); err != nil || port == "" {
			return fmt.Errorf("metrics address %q: must be host:port", c.MetricsAddress)
		}
	}
	return nil
}

// PluginParams are the kernel parameters given to plugins
// (sdk.HostConfig.KernelParams): the kernel's, with the value of every
// option that has a kernel parameter and was set in a config file or by a
// flag put under that parameter's name, so that plugins reading ipa-*
// parameters (ipa-collect-lldp, ipa-lldp-timeout...) follow IPA's
// precedence.
func (c *Config) PluginParams() map[string]string {
	out := make(map[string]string, len(c.KernelParams))
	for k, v := range c.KernelParams {
		out[k] = v
	}
	for _, o := range options {
		src, set := c.Sources[o.name]
		v := c.values[o]
		if o.kernel == "" || !set || v == nil || src == kernelSource(o.kernel) {
			continue
		}
		out[o.kernel] = v.String()
	}
	return out
}

// Setting is an option's value and where it came from.
type Setting struct {
	// Option is the option's name (api_url).
	Option string
	// Value is its value as text; secrets are masked.
	Value string
	// Source is where it was read (see Config.Sources).
	Source string
}

// Settings lists the options not at their default, in the order of
// docs/ipa-compatibility.md, with secrets (agent_token,
// image_server_password) masked, for logging.
func (c *Config) Settings() []Setting {
	var out []Setting
	for _, o := range options {
		src, ok := c.Sources[o.name]
		v := c.values[o]
		if !ok || v == nil {
			continue
		}
		s := Setting{Option: o.name, Value: v.String(), Source: src}
		if o.secret && s.Value != "" {
			s.Value = "***"
		}
		out = append(out, s)
	}
	return out
}
