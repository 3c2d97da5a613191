// Package config builds the agent's configuration from IPA's kernel
// parameters and metalagent's command-line flags. As in IPA, kernel
// parameters are defaults: a flag given on the command line wins.
package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// Config is the agent's whole configuration.
type Config struct {
	// APIURL is Ironic's API base URL (no /v1).
	APIURL string
	// ListenHost and ListenPort are where the agent's API listens.
	ListenHost string
	ListenPort int
	// AdvertiseHost and AdvertisePort go into the heartbeat's callback URL;
	// an empty AdvertiseHost is detected from the route to Ironic.
	AdvertiseHost string
	AdvertisePort int
	// AdvertiseProtocol is the callback URL's scheme.
	AdvertiseProtocol string
	// Standalone serves the API without lookup or heartbeats.
	Standalone bool
	// Insecure skips TLS verification of Ironic and image servers.
	Insecure bool
	// PluginDirs are the directories searched for plugin executables.
	PluginDirs []string
	// AllowedDisks limits the block devices the agent may see and touch.
	AllowedDisks []string
	// CmdlineFile is where kernel parameters are read from.
	CmdlineFile string
	// InspectionCallbackURL is ironic-inspector's /v1/continue URL.
	InspectionCallbackURL string
	// InspectionCollectors is the comma-separated list of inspection
	// collectors as given; empty means IPA's default "default,logs" (and,
	// without a callback URL, no inspection through Ironic).
	InspectionCollectors string
	// InspectionDHCPWaitTimeout bounds the wait for the PXE interface (or
	// all, with InspectionDHCPAllInterfaces) to get an IPv4 address before
	// inspection; 0 does not wait.
	InspectionDHCPWaitTimeout   time.Duration
	InspectionDHCPAllInterfaces bool
	// IgnoreBootloaderFailure makes install_bootloader failures warnings.
	IgnoreBootloaderFailure bool
	// SimulatePower answers power-off and reboot requests, then exits,
	// instead of acting on the machine.
	SimulatePower bool
	// Debug turns on debug logging.
	Debug bool
	// GlobalRequestID is sent as X-OpenStack-Request-ID to Ironic.
	GlobalRequestID string
	// LookupTimeout is how long lookup is retried before the agent exits;
	// LookupInterval is the first retry interval.
	LookupTimeout  time.Duration
	LookupInterval time.Duration
	// Image download knobs.
	ImageDownloadConnectionTimeout       time.Duration
	ImageDownloadConnectionRetries       int
	ImageDownloadConnectionRetryInterval time.Duration
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
	// BootIF is the raw BOOTIF kernel parameter.
	BootIF string
	// KernelParams are every key=value kernel parameter.
	KernelParams map[string]string
}

// kernelParam maps a kernel parameter to the flag it sets by default.
type kernelParam struct{ param, flag string }

// kernelParams lists the kernel parameters the agent reads, IPA's names
// first.
var kernelParams = []kernelParam{
	{"ipa-api-url", "api-url"},
	{"ipa-listen-host", "listen-host"},
	{"ipa-listen-port", "listen-port"},
	{"ipa-advertise-host", "advertise-host"},
	{"ipa-advertise-port", "advertise-port"},
	{"ipa-advertise-protocol", "advertise-protocol"},
	{"ipa-insecure", "insecure"},
	{"ipa-inspection-callback-url", "inspection-callback-url"},
	{"ipa-inspection-collectors", "inspection-collectors"},
	{"ipa-inspection-dhcp-wait-timeout", "inspection-dhcp-wait-timeout"},
	{"ipa-inspection-dhcp-all-interfaces", "inspection-dhcp-all-interfaces"},
	{"ipa-ignore-bootloader-failure", "ignore-bootloader-failure"},
	{"ipa-debug", "debug"},
	{"ipa-global-request-id", "global-request-id"},
	{"ipa-lookup-timeout", "lookup-timeout"},
	{"ipa-lookup-interval", "lookup-interval"},
	{"ipa-image-download-connection-timeout", "image-download-connection-timeout"},
	{"ipa-image-download-connection-retries", "image-download-connection-retries"},
	{"ipa-image-download-connection-retry-interval", "image-download-connection-retry-interval"},
	{"metalagent-allowed-disks", "allowed-disks"},
	{"metalagent-plugin-dir", "plugin-dir"},
	{"metalagent-require-plugin-manifest", "require-plugin-manifest"},
	{"metalagent-plugin-start-timeout", "plugin-start-timeout"},
	{"metalagent-plugin-call-timeout", "plugin-call-timeout"},
	{"metalagent-plugin-step-timeout", "plugin-step-timeout"},
	{"metalagent-plugin-gomaxprocs", "plugin-gomaxprocs"},
	{"metalagent-plugin-max-crashes", "plugin-max-crashes"},
	{"metalagent-plugin-crash-window", "plugin-crash-window"},
}

// ErrHelp is returned by Parse when help was asked for; the usage has been
// printed.
var ErrHelp = pflag.ErrHelp

// Parse builds the configuration from args (without the program name) and
// the kernel command line (/proc/cmdline, or --cmdline-file).
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
	c := &Config{}
	var lookupTimeout, lookupInterval, dlTimeout, dlInterval, pluginStart, pluginCall, pluginStep, crashWindow float64
	fs.StringVar(&c.APIURL, "api-url", "", "Ironic API URL (kernel: ipa-api-url)")
	fs.StringVar(&c.ListenHost, "listen-host", "::", "address the agent API listens on (kernel: ipa-listen-host)")
	fs.IntVar(&c.ListenPort, "listen-port", 9999, "port the agent API listens on (kernel: ipa-listen-port)")
	fs.StringVar(&c.AdvertiseHost, "advertise-host", "", "host put in the callback URL; detected from the route to Ironic when empty (kernel: ipa-advertise-host)")
	fs.IntVar(&c.AdvertisePort, "advertise-port", 9999, "port put in the callback URL (kernel: ipa-advertise-port)")
	fs.StringVar(&c.AdvertiseProtocol, "advertise-protocol", "http", "scheme of the callback URL (kernel: ipa-advertise-protocol)")
	fs.BoolVar(&c.Standalone, "standalone", false, "serve the API only: no lookup, no heartbeats")
	fs.BoolVar(&c.Insecure, "insecure", false, "do not verify TLS certificates of Ironic and image servers (kernel: ipa-insecure)")
	fs.StringSliceVar(&c.PluginDirs, "plugin-dir", []string{"/usr/lib/metalagent/plugins"}, "directory of hardware-manager plugin executables; repeatable (kernel: metalagent-plugin-dir)")
	fs.StringSliceVar(&c.AllowedDisks, "allowed-disks", nil, "comma-separated block devices the agent may see and touch; empty means all (kernel: metalagent-allowed-disks)")
	fs.StringVar(&c.CmdlineFile, "cmdline-file", "/proc/cmdline", "file to read kernel parameters from")
	fs.StringVar(&c.InspectionCallbackURL, "inspection-callback-url", "", "ironic-inspector callback URL (kernel: ipa-inspection-callback-url)")
	var dhcpWait float64
	fs.StringVar(&c.InspectionCollectors, "inspection-collectors", "", "comma-separated inspection collectors; empty means default,logs (kernel: ipa-inspection-collectors)")
	fs.Float64Var(&dhcpWait, "inspection-dhcp-wait-timeout", 60, "seconds inspection waits for the PXE interface's IPv4 address; 0 does not wait (kernel: ipa-inspection-dhcp-wait-timeout)")
	fs.BoolVar(&c.InspectionDHCPAllInterfaces, "inspection-dhcp-all-interfaces", false, "inspection waits for every interface's IPv4 address (kernel: ipa-inspection-dhcp-all-interfaces)")
	fs.BoolVar(&c.IgnoreBootloaderFailure, "ignore-bootloader-failure", false, "treat bootloader installation failures as warnings (kernel: ipa-ignore-bootloader-failure)")
	fs.BoolVar(&c.SimulatePower, "simulate-power", false, "log and answer power-off and reboot requests, then exit 0, instead of acting")
	fs.BoolVar(&c.Debug, "debug", false, "debug logging (kernel: ipa-debug)")
	fs.StringVar(&c.GlobalRequestID, "global-request-id", "", "X-OpenStack-Request-ID sent to Ironic (kernel: ipa-global-request-id)")
	fs.Float64Var(&lookupTimeout, "lookup-timeout", 300, "seconds to retry lookup before exiting (kernel: ipa-lookup-timeout)")
	fs.Float64Var(&lookupInterval, "lookup-interval", 1, "first lookup retry interval in seconds (kernel: ipa-lookup-interval)")
	fs.Float64Var(&dlTimeout, "image-download-connection-timeout", 60, "image download connect and read timeout in seconds (kernel: ipa-image-download-connection-timeout)")
	fs.IntVar(&c.ImageDownloadConnectionRetries, "image-download-connection-retries", 9, "image download retries (kernel: ipa-image-download-connection-retries)")
	fs.Float64Var(&dlInterval, "image-download-connection-retry-interval", 10, "seconds between image download retries (kernel: ipa-image-download-connection-retry-interval)")
	fs.Float64Var(&pluginStart, "plugin-start-timeout", 10, "seconds a plugin may take to start and answer its handshake (kernel: metalagent-plugin-start-timeout)")
	fs.Float64Var(&pluginCall, "plugin-call-timeout", 30, "seconds for a plugin's support, version, inventory and step-list calls and hardware methods; a plugin that does not answer is killed and restarted (kernel: metalagent-plugin-call-timeout)")
	fs.IntVar(&c.PluginGOMAXPROCS, "plugin-gomaxprocs", 1, "GOMAXPROCS given to Go plugins: 1 halves a call's round trip on small machines; 0 leaves their default (kernel: metalagent-plugin-gomaxprocs)")
	fs.Float64Var(&pluginStep, "plugin-step-timeout", 0, "seconds a plugin's step may run before the plugin is killed and restarted; 0 for no limit (kernel: metalagent-plugin-step-timeout)")
	fs.IntVar(&c.PluginMaxCrashes, "plugin-max-crashes", 3, "crashes or hangs within --plugin-crash-window after which a plugin is marked failed (kernel: metalagent-plugin-max-crashes)")
	fs.Float64Var(&crashWindow, "plugin-crash-window", 300, "seconds over which plugin crashes are counted (kernel: metalagent-plugin-crash-window)")
	fs.BoolVar(&c.RequirePluginManifest, "require-plugin-manifest", false, "refuse the plugins of a directory without a manifest.json (kernel: metalagent-require-plugin-manifest)")
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	params, err := ReadCmdline(c.CmdlineFile)
	if err != nil {
		return nil, nil, err
	}
	c.KernelParams = params
	for _, kp := range kernelParams {
		v, ok := params[kp.param]
		if !ok || fs.Changed(kp.flag) {
			continue
		}
		if err := fs.Set(kp.flag, v); err != nil {
			return nil, nil, fmt.Errorf("kernel parameter %s=%q: %w", kp.param, v, err)
		}
	}
	c.BootIF = params["BOOTIF"]
	c.InspectionDHCPWaitTimeout = seconds(dhcpWait)
	c.LookupTimeout = seconds(lookupTimeout)
	c.LookupInterval = seconds(lookupInterval)
	c.ImageDownloadConnectionTimeout = seconds(dlTimeout)
	c.ImageDownloadConnectionRetryInterval = seconds(dlInterval)
	c.PluginStartTimeout = seconds(pluginStart)
	c.PluginCallTimeout = seconds(pluginCall)
	c.PluginStepTimeout = seconds(pluginStep)
	c.PluginCrashWindow = seconds(crashWindow)
	if err := c.checkPluginSettings(); err != nil {
		return nil, nil, err
	}
	if !c.Standalone && c.APIURL == "" {
		return nil, nil, errors.New("no Ironic API URL: give --api-url or the ipa-api-url kernel parameter, or run with --standalone")
	}
	if c.APIURL != "" && !strings.HasPrefix(c.APIURL, "http://") && !strings.HasPrefix(c.APIURL, "https://") {
		return nil, nil, fmt.Errorf("api url %q: must start with http:// or https://", c.APIURL)
	}
	c.APIURL = strings.TrimRight(c.APIURL, "/")
	return c, fs.Args(), nil
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

func seconds(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

// ReadCmdline reads kernel parameters as IPA does: whitespace-separated
// tokens, each containing "=" split at the first "=", the last occurrence
// winning; tokens without "=" are ignored.
func ReadCmdline(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read kernel parameters: %w", err)
	}
	return ParseCmdline(string(b)), nil
}

// ParseCmdline parses a kernel command line as ReadCmdline does.
func ParseCmdline(s string) map[string]string {
	params := map[string]string{}
	for _, tok := range strings.Fields(s) {
		k, v, ok := strings.Cut(tok, "=")
		if !ok || k == "" {
			continue
		}
		params[k] = v
	}
	return params
}
