package config

import (
	"fmt"
	"regexp"
	"strings"
)

// status says what the agent does with an option.
type status int

const (
	// implemented: the agent acts on the option.
	implemented status = iota
	// parsedOnly: the option is read, checked and kept in Config, but the
	// feature it tunes is not in this agent version; setting it logs a
	// warning.
	parsedOnly
)

// option is one setting: IPA's option (or metalagent's own), where it can
// come from, and the Config field it fills.
type option struct {
	// name is the oslo.config option name: the key in its INI section
	// and, with dashes, the flag.
	name string
	// group is the INI section; "" is [DEFAULT].
	group string
	// alias is an older section and key read as well (IPA 9.4's [ssl]
	// cert_file for [N]'s tls_cert_file).
	alias *iniKey
	// kernel is the kernel parameter whose value is the default; "" when
	// there is none.
	kernel string
	// usage is the flag's help, without the source and status suffix.
	usage string
	// bind binds the option's value, holding its default, to c's field.
	bind func(c *Config) value
	// status is what the agent does with the option; reason says, for
	// parsedOnly, which feature is missing.
	status status
	reason string
	// newer marks options IPA 9.4 does not have (IPA 9.5 and later).
	newer bool
	// metalagent marks metalagent's own options.
	metalagent bool
	// commandLineOnly options are read from neither the kernel command
	// line nor a file: they say where those are.
	commandLineOnly bool
	// notInFiles options are kernel parameters IPA reads directly, with
	// no option in its config files.
	notInFiles bool
	// kernelBeatsIPAFiles: as IPA's entry point does for ipa-debug, the
	// kernel parameter overrides IPA's config files (metalagent's own
	// file and flags still override it).
	kernelBeatsIPAFiles bool
	// secret values are not repeated in messages.
	secret bool
}

// iniKey is a key in an INI section; group "" is [DEFAULT].
type iniKey struct{ group, name string }

// flagName is the option's flag: its name with dashes.
func (o *option) flagName() string { return strings.ReplaceAll(o.name, "_", "-") }

// inFiles says whether the option is read from config files.
func (o *option) inFiles() bool { return !o.commandLineOnly && !o.notInFiles }

// key is where the option lives in an INI file.
func (o *option) key() iniKey { return iniKey{o.group, o.name} }

// fullUsage is the flag's help with where else the option comes from and
// whether it has an effect.
func (o *option) fullUsage() string {
	var src []string
	if o.kernel != "" {
		src = append(src, "kernel: "+o.kernel)
	}
	if o.inFiles() {
		k := o.name
		if o.group != "" {
			k = "[" + o.group + "] " + k
		}
		if o.alias != nil {
			k += " or [" + o.alias.group + "] " + o.alias.name
		}
		src = append(src, "file: "+k)
	}
	u := o.usage
	if len(src) > 0 {
		u += " (" + strings.Join(src, "; ") + ")"
	}
	if o.status == parsedOnly {
		u += " [read but no effect yet: " + o.reason + "]"
	}
	return u
}

// Reasons of parsed-only options.
const (
	noCipherChoice = "the agent API offers a fixed set of AEAD cipher suites (ECDHE with AES-GCM or ChaCha20)"
	noOutgoingTLS  = "custom CA and client certificates for outgoing HTTPS are not implemented"
	noInspection   = "the extra-hardware collector and its benchmarks are not implemented"
	noNTP          = "clock synchronisation is not implemented"
	noMDNS         = "mDNS discovery is not implemented"
	noVLAN         = "VLAN interface creation is not implemented"
	noImageFormats = "deep image inspection and format checks are not implemented"
	noPartitions   = "partition images and config drives are not implemented"
	noImageAuth    = "image server authentication is not implemented"
	noVMedia       = "virtual-media parameters and config files are not read"
)

var (
	// apiURLItem is IPA's api_url pattern, applied to each URL of a list.
	apiURLItem = regexp.MustCompile(`^(mdns|https?://.+)$`)
	// apiVersion is an Ironic API microversion.
	apiVersion = regexp.MustCompile(`^[0-9]+\.[0-9]+$`)
)

func checkAPIURL(s string) error {
	if !apiURLItem.MatchString(s) {
		return fmt.Errorf("%q must start with http:// or https://, or be mdns", s)
	}
	return nil
}

// options lists every option: IPA 9.4's [DEFAULT] options and kernel
// parameters, the newer ones, and metalagent's own. Defaults are IPA
// 9.4's (TestDefaultsAreIPAs checks them against IPA's list).
var options = []*option{
	// Ironic API and identity.
	{name: "api_url", kernel: "ipa-api-url", usage: "Ironic API URL without /v1; a comma-separated list is accepted, only the first URL is used",
		bind: func(c *Config) value { return listVar(&c.APIURLs, nil, checkAPIURL) }},
	{name: "global_request_id", kernel: "ipa-global-request-id", usage: "X-OpenStack-Request-ID sent to Ironic",
		bind: func(c *Config) value { return stringVar(&c.GlobalRequestID, "") }},
	{name: "ironic_api_version", kernel: "ipa-ironic-api-version", usage: "Ironic API microversion to use instead of discovering it (x.y)",
		bind: func(c *Config) value {
			return patternVar(&c.IronicAPIVersion, "", apiVersion, "an API version like 1.68")
		}},
	{name: "http_request_timeout", kernel: "ipa-http-request-timeout", newer: true, usage: "seconds to connect to Ironic",
		bind: func(c *Config) value { return secondsVar(&c.HTTPRequestTimeout, 30, 1) }},
	{name: "insecure", kernel: "ipa-insecure", usage: "do not verify TLS certificates of Ironic and image servers",
		bind: func(c *Config) value { return boolVar(&c.Insecure, false) }},
	{name: "cafile", usage: "CA bundle for verifying Ironic and image servers", status: parsedOnly, reason: noOutgoingTLS,
		bind: func(c *Config) value { return stringVar(&c.CAFile, "") }},
	{name: "certfile", usage: "client certificate presented to Ironic and image servers", status: parsedOnly, reason: noOutgoingTLS,
		bind: func(c *Config) value { return stringVar(&c.CertFile, "") }},
	{name: "keyfile", usage: "key of --certfile", status: parsedOnly, reason: noOutgoingTLS,
		bind: func(c *Config) value { return stringVar(&c.KeyFile, "") }},
	{name: "agent_token", kernel: "ipa-agent-token", secret: true, usage: "pre-shared agent token, used when lookup hands out none",
		bind: func(c *Config) value { return stringVar(&c.AgentToken, "") }},
	{name: "agent_token_required", kernel: "ipa-agent-token-required", usage: "require the agent token on commands even if Ironic does not ask for it",
		bind: func(c *Config) value { return boolVar(&c.AgentTokenRequired, false) }},

	// The agent API and the callback URL.
	{name: "listen_host", kernel: "ipa-listen-host", usage: "address the agent API listens on (default :: when IPv6 is enabled, else 0.0.0.0)",
		bind: func(c *Config) value { return stringVar(&c.ListenHost, wildcardAddress(ipv6DisabledFile)) }},
	{name: "listen_port", kernel: "ipa-listen-port", usage: "port the agent API listens on",
		bind: func(c *Config) value { return portVar(&c.ListenPort, 9999) }},
	{name: "listen_tls", usage: "serve the agent API over TLS with --tls-cert-file and --tls-key-file; the callback URL then defaults to https",
		bind: func(c *Config) value { return boolVar(&c.ListenTLS, false) }},
	{name: "tls_cert_file", alias: &iniKey{"ssl", "cert_file"}, newer: true, usage: "PEM certificate (then any intermediates) of the agent API, for --listen-tls",
		bind: func(c *Config) value { return stringVar(&c.TLSCertFile, "") }},
	{name: "tls_key_file", alias: &iniKey{"ssl", "key_file"}, newer: true, usage: "unencrypted PEM private key of --tls-cert-file",
		bind: func(c *Config) value { return stringVar(&c.TLSKeyFile, "") }},
	{name: "enable_auto_tls", usage: "without --listen-tls, serve the agent API over TLS with a self-signed certificate sent to Ironic as agent_verify_ca, when Ironic's API is 1.68 or newer",
		bind: func(c *Config) value { return boolVar(&c.EnableAutoTLS, true) }},
	{name: "auto_tls_allowed_clock_skew", usage: "seconds the generated certificate is back-dated, for a conductor whose clock is behind",
		bind: func(c *Config) value { return secondsVar(&c.AutoTLSAllowedClockSkew, 3600, 0) }},
	{name: "tls_min_version", kernel: "ipa-tls-min-version", newer: true, usage: "minimum TLS version the agent API accepts, 1.2 or 1.3",
		bind: func(c *Config) value { return choiceVar(&c.TLSMinVersion, "1.2", "1.2", "1.3") }},
	{name: "tls_cipher_suites", kernel: "ipa-tls-cipher-suites", newer: true, usage: "colon-separated TLS 1.2 cipher suites", status: parsedOnly, reason: noCipherChoice,
		bind: func(c *Config) value { return stringVar(&c.TLSCipherSuites, "") }},
	{name: "tls_certificate_curve", kernel: "ipa-tls-certificate-curve", newer: true, usage: "curve of the generated certificate: p256 (IPA 9.4's), p384 or p521",
		bind: func(c *Config) value { return choiceVar(&c.TLSCertificateCurve, "p384", "p256", "p384", "p521") }},
	{name: "tls_dir", kernel: "metalagent-tls-dir", metalagent: true, usage: "directory auto-TLS writes agent.crt and agent.key to (IPA: /run/ironic-python-agent)",
		bind: func(c *Config) value { return stringVar(&c.TLSDir, DefaultTLSDir) }},
	{name: "advertise_host", kernel: "ipa-advertise-host", usage: "host put in the callback URL; detected from the route to Ironic when empty",
		bind: func(c *Config) value { return stringVar(&c.AdvertiseHost, "") }},
	{name: "advertise_port", kernel: "ipa-advertise-port", usage: "port put in the callback URL",
		bind: func(c *Config) value { return portVar(&c.AdvertisePort, 9999) }},
	{name: "advertise_protocol", kernel: "ipa-advertise-protocol", usage: "scheme of the callback URL: http or https (the agent API itself serves plain HTTP)",
		bind: func(c *Config) value { return choiceVar(&c.AdvertiseProtocol, "http", "http", "https") }},
	{name: "ip_lookup_attempts", kernel: "ipa-ip-lookup-attempts", usage: "attempts to find the address to advertise",
		bind: func(c *Config) value { return intVar(&c.IPLookupAttempts, 6, 1) }},
	{name: "ip_lookup_sleep", kernel: "ipa-ip-lookup-timeout", usage: "seconds between those attempts",
		bind: func(c *Config) value { return secondsVar(&c.IPLookupSleep, 10, 0) }},
	{name: "network_interface", kernel: "ipa-network-interface", usage: "advertise this interface's IPv4 address instead of the route's source",
		bind: func(c *Config) value { return stringVar(&c.NetworkInterface, "") }},

	// Lookup.
	{name: "lookup_timeout", kernel: "ipa-lookup-timeout", usage: "seconds to retry lookup before exiting",
		bind: func(c *Config) value { return secondsVar(&c.LookupTimeout, 300, 0) }},
	{name: "lookup_interval", kernel: "ipa-lookup-interval", usage: "first lookup retry interval in seconds",
		bind: func(c *Config) value { return secondsVar(&c.LookupInterval, 1, 0) }},

	// Hardware and boot.
	{name: "hardware_initialization_delay", kernel: "ipa-hardware-initialization-delay", usage: "seconds to wait after starting the hardware managers",
		bind: func(c *Config) value { return secondsVar(&c.HardwareInitializationDelay, 0, 0) }},
	{name: "disk_wait_attempts", kernel: "ipa-disk-wait-attempts", usage: "attempts to find a disk to install on before the inventory; 0 does not wait",
		bind: func(c *Config) value { return intVar(&c.DiskWaitAttempts, 10, 0) }},
	{name: "disk_wait_delay", kernel: "ipa-disk-wait-delay", usage: "seconds between those attempts",
		bind: func(c *Config) value { return secondsVar(&c.DiskWaitDelay, 3, 0) }},
	{name: "collect_lldp", kernel: "ipa-collect-lldp", usage: "collect LLDP frames into the inventory (passed to the plugins)",
		bind: func(c *Config) value { return boolVar(&c.CollectLLDP, false) }},
	{name: "lldp_timeout", kernel: "ipa-lldp-timeout", usage: "seconds to listen for LLDP frames (passed to the plugins)",
		bind: func(c *Config) value { return floatSecondsVar(&c.LLDPTimeout, 30, 0) }},
	{name: "enable_vlan_interfaces", kernel: "ipa-enable-vlan-interfaces", usage: "VLAN interfaces to create: IF.VLAN, IF or all", status: parsedOnly, reason: noVLAN,
		bind: func(c *Config) value { return stringVar(&c.EnableVLANInterfaces, "") }},
	{name: "ntp_server", kernel: "ipa-ntp-server", usage: "NTP server to set the clock from", status: parsedOnly, reason: noNTP,
		bind: func(c *Config) value { return stringVar(&c.NTPServer, "") }},
	{name: "fail_if_clock_not_set", usage: "fail when the clock cannot be set", status: parsedOnly, reason: noNTP,
		bind: func(c *Config) value { return boolVar(&c.FailIfClockNotSet, false) }},
	{name: "debug", kernel: "ipa-debug", kernelBeatsIPAFiles: true, usage: "debug logging",
		bind: func(c *Config) value { return boolVar(&c.Debug, false) }},
	{name: "bootif", kernel: "BOOTIF", notInFiles: true, usage: "PXE interface's MAC (01-aa-bb-cc-dd-ee-ff or aa:bb:cc:dd:ee:ff), reported as boot.pxe_interface",
		bind: func(c *Config) value { return stringVar(&c.BootIF, "") }},
	{name: "boot_method", kernel: "boot_method", notInFiles: true, usage: "how the ramdisk was booted; vmedia reads parameters from virtual media", status: parsedOnly, reason: noVMedia,
		bind: func(c *Config) value { return stringVar(&c.BootMethod, "") }},

	// Inspection.
	{name: "inspection_callback_url", kernel: "ipa-inspection-callback-url", usage: "ironic-inspector callback URL",
		bind: func(c *Config) value { return stringVar(&c.InspectionCallbackURL, "") }},
	{name: "inspection_collectors", kernel: "ipa-inspection-collectors", usage: "comma-separated inspection collectors",
		bind: func(c *Config) value { return stringVar(&c.InspectionCollectors, "default,logs") }},
	{name: "inspection_dhcp_wait_timeout", kernel: "ipa-inspection-dhcp-wait-timeout", usage: "seconds to wait for DHCP before inspection; 0 does not wait",
		bind: func(c *Config) value { return secondsVar(&c.InspectionDHCPWaitTimeout, 60, 0) }},
	{name: "inspection_dhcp_all_interfaces", kernel: "ipa-inspection-dhcp-all-interfaces", usage: "wait for DHCP on every interface, not only BOOTIF",
		bind: func(c *Config) value { return boolVar(&c.InspectionDHCPAllInterfaces, false) }},
	{name: "inspection_benchmarks", kernel: "ipa-inspection-benchmarks", notInFiles: true, usage: "benchmarks of the extra-hardware collector: cpu, disk, mem", status: parsedOnly, reason: noInspection,
		bind: func(c *Config) value { return listVar(&c.InspectionBenchmarks, nil, nil) }},
	{name: "use_mdns", group: "mdns", kernel: "ipa-use-mdns", newer: true, usage: "discover Ironic by mDNS when no URL is given", status: parsedOnly, reason: noMDNS,
		bind: func(c *Config) value { return boolVar(&c.UseMDNS, false) }},

	// Images, steps and deployment.
	{name: "image_download_connection_timeout", kernel: "ipa-image-download-connection-timeout", usage: "image download connect and read timeout in seconds",
		bind: func(c *Config) value { return secondsVar(&c.ImageDownloadConnectionTimeout, 60, 1) }},
	{name: "image_download_connection_retries", kernel: "ipa-image-download-connection-retries", usage: "image download retries",
		bind: func(c *Config) value { return intVar(&c.ImageDownloadConnectionRetries, 9, 0) }},
	{name: "image_download_connection_retry_interval", kernel: "ipa-image-download-connection-retry-interval", usage: "seconds between image download retries",
		bind: func(c *Config) value { return secondsVar(&c.ImageDownloadConnectionRetryInterval, 10, 0) }},
	{name: "image_download_max_duration", kernel: "ipa-image-download-max-duration", newer: true, usage: "seconds an image download may take in all; 0 for no limit", status: parsedOnly, reason: "a total download deadline is not implemented",
		bind: func(c *Config) value { return secondsVar(&c.ImageDownloadMaxDuration, 0, 0) }},
	{name: "image_server_user", newer: true, usage: "user for the image server", status: parsedOnly, reason: noImageAuth,
		bind: func(c *Config) value { return stringVar(&c.ImageServerUser, "") }},
	{name: "image_server_password", newer: true, secret: true, usage: "password for the image server", status: parsedOnly, reason: noImageAuth,
		bind: func(c *Config) value { return stringVar(&c.ImageServerPassword, "") }},
	{name: "image_server_auth_strategy", newer: true, usage: "image server authentication: noauth or http_basic", status: parsedOnly, reason: noImageAuth,
		bind: func(c *Config) value { return stringVar(&c.ImageServerAuthStrategy, "noauth") }},
	{name: "md5_enabled", newer: true, usage: "allow MD5 image checksums", status: parsedOnly, reason: "MD5 is always allowed, as in IPA 9.4",
		bind: func(c *Config) value { return boolVar(&c.MD5Enabled, true) }},
	{name: "disable_deep_image_inspection", usage: "skip checking an image's format before writing it", status: parsedOnly, reason: noImageFormats,
		bind: func(c *Config) value { return boolVar(&c.DisableDeepImageInspection, false) }},
	{name: "permitted_image_formats", usage: "image formats allowed for deployment", status: parsedOnly, reason: noImageFormats,
		bind: func(c *Config) value { return listVar(&c.PermittedImageFormats, []string{"raw", "qcow2"}, nil) }},
	{name: "ignore_bootloader_failure", kernel: "ipa-ignore-bootloader-failure", usage: "treat bootloader installation failures as warnings",
		bind: func(c *Config) value { return boolVar(&c.IgnoreBootloaderFailure, false) }},
	{name: "inject_files_priority", kernel: "ipa-inject-files-priority", usage: "priority of the inject_files deploy step, 0 to 99", status: parsedOnly, reason: "the inject_files deploy step is not implemented",
		bind: func(c *Config) value { return boundedIntVar(&c.InjectFilesPriority, 0, 0, 99) }},
	{name: "guard_special_filesystems", kernel: "ipa-guard-special-filesystems", usage: "refuse to clean disks holding shared-cluster filesystems (GPFS, VMFS)", status: parsedOnly, reason: "special filesystems are not detected",
		bind: func(c *Config) value { return boolVar(&c.GuardSpecialFilesystems, true) }},
	{name: "config_drive_rebuild", usage: "always rebuild the config drive", status: parsedOnly, reason: noPartitions,
		bind: func(c *Config) value { return boolVar(&c.ConfigDriveRebuild, false) }},
	{name: "enable_bios_bootloader_install", newer: true, usage: "allow grub-install for partition images in BIOS mode", status: parsedOnly, reason: noPartitions,
		bind: func(c *Config) value { return boolVar(&c.EnableBIOSBootloaderInstall, false) }},
	{name: "disable_bootc_deploy", newer: true, usage: "refuse bootc deployments", status: parsedOnly, reason: "bootc deployment is not implemented",
		bind: func(c *Config) value { return boolVar(&c.DisableBootcDeploy, false) }},

	// metalagent's own.
	{name: "standalone", metalagent: true, usage: "serve the API only: no lookup, no heartbeats",
		bind: func(c *Config) value { return boolVar(&c.Standalone, false) }},
	{name: "simulate_power", metalagent: true, usage: "log and answer power-off and reboot requests, then exit 0, instead of acting",
		bind: func(c *Config) value { return boolVar(&c.SimulatePower, false) }},
	{name: "sandbox", kernel: "metalagent-sandbox", metalagent: true, usage: "record the actions that change the machine (rescue password file, interfaces down, efibootmgr, power) in DIR/actions.jsonl and write their files under DIR instead of acting; implies --simulate-power",
		bind: func(c *Config) value { return stringVar(&c.Sandbox, "") }},
	{name: "plugin_dir", kernel: "metalagent-plugin-dir", metalagent: true, usage: "directory of hardware-manager plugin executables; repeatable",
		bind: func(c *Config) value { return listVar(&c.PluginDirs, []string{"/usr/lib/metalagent/plugins"}, nil) }},
	{name: "allowed_disks", kernel: "metalagent-allowed-disks", metalagent: true, usage: "comma-separated block devices the agent may see and touch; empty means all",
		bind: func(c *Config) value { return listVar(&c.AllowedDisks, nil, nil) }},
	{name: "metrics", kernel: "metalagent-metrics", metalagent: true, usage: "serve Prometheus metrics at /metrics on --metrics-address, without authentication",
		bind: func(c *Config) value { return boolVar(&c.Metrics, false) }},
	{name: "metrics_address", kernel: "metalagent-metrics-address", metalagent: true, usage: "host:port the metrics are served on; \":9608\" for every address",
		bind: func(c *Config) value { return stringVar(&c.MetricsAddress, "127.0.0.1:9608") }},
	{name: "log_format", kernel: "metalagent-log-format", metalagent: true, usage: "log line format: text or json",
		bind: func(c *Config) value { return choiceVar(&c.LogFormat, "text", "text", "json") }},
	{name: "require_plugin_manifest", kernel: "metalagent-require-plugin-manifest", metalagent: true, usage: "refuse the plugins of a directory without a manifest.json",
		bind: func(c *Config) value { return boolVar(&c.RequirePluginManifest, false) }},
	{name: "plugin_start_timeout", kernel: "metalagent-plugin-start-timeout", metalagent: true, usage: "seconds a plugin may take to start and answer its handshake",
		bind: func(c *Config) value { return floatSecondsVar(&c.PluginStartTimeout, 10, 0) }},
	{name: "plugin_call_timeout", kernel: "metalagent-plugin-call-timeout", metalagent: true, usage: "seconds for a plugin's support, version, inventory and step-list calls and hardware methods; a plugin that does not answer is killed and restarted",
		bind: func(c *Config) value { return floatSecondsVar(&c.PluginCallTimeout, 30, 0) }},
	{name: "plugin_step_timeout", kernel: "metalagent-plugin-step-timeout", metalagent: true, usage: "seconds a plugin's step may run before the plugin is killed and restarted; 0 for no limit",
		bind: func(c *Config) value { return floatSecondsVar(&c.PluginStepTimeout, 0, 0) }},
	{name: "plugin_gomaxprocs", kernel: "metalagent-plugin-gomaxprocs", metalagent: true, usage: "GOMAXPROCS given to Go plugins: 1 halves a call's round trip on small machines; 0 leaves their default",
		bind: func(c *Config) value { return intVar(&c.PluginGOMAXPROCS, 1, 0) }},
	{name: "plugin_max_crashes", kernel: "metalagent-plugin-max-crashes", metalagent: true, usage: "crashes or hangs within --plugin-crash-window after which a plugin is marked failed",
		bind: func(c *Config) value { return intVar(&c.PluginMaxCrashes, 3, 1) }},
	{name: "plugin_crash_window", kernel: "metalagent-plugin-crash-window", metalagent: true, usage: "seconds over which plugin crashes are counted",
		bind: func(c *Config) value { return floatSecondsVar(&c.PluginCrashWindow, 300, 0) }},

	// Where the rest comes from.
	{name: "cmdline_file", metalagent: true, commandLineOnly: true, usage: "file to read kernel parameters from",
		bind: func(c *Config) value { return stringVar(&c.CmdlineFile, "/proc/cmdline") }},
	{name: "config_file", commandLineOnly: true, usage: "IPA config file (oslo.config INI); repeatable; a missing default is skipped",
		bind: func(c *Config) value { return multiVar(&c.ConfigFiles, defaultConfigFiles) }},
	{name: "config_dir", commandLineOnly: true, usage: "directory of IPA config files *.conf, read in name order after --config-file; repeatable; missing defaults are skipped",
		bind: func(c *Config) value { return multiVar(&c.ConfigDirs, defaultConfigDirs) }},
	{name: "metalagent_config", metalagent: true, commandLineOnly: true, usage: "metalagent's config file, same INI format, read after IPA's; a missing default is skipped",
		bind: func(c *Config) value { return stringVar(&c.MetalagentConfig, defaultMetalagentConfig) }},
}

// Where configuration files are looked for by default.
var (
	// defaultConfigFiles is oslo.config's default for IPA (~ is not
	// searched: a ramdisk has no user's home).
	defaultConfigFiles = []string{"/etc/ironic-python-agent.conf"}
	// defaultConfigDirs are oslo.config's default directory for IPA and
	// the one IPA's ramdisk builders pass with --config-dir.
	defaultConfigDirs = []string{"/etc/ironic-python-agent.conf.d", "/etc/ironic-python-agent.d"}
)

// DefaultMetalagentConfig is metalagent's own config file.
const DefaultMetalagentConfig = "/etc/metalagent/metalagent.conf"

// defaultMetalagentConfig is the flag's default (tests change it).
var defaultMetalagentConfig = DefaultMetalagentConfig

// ignoredKeys are IPA options metalagent knows and does not use, with the
// reason; setting one in a file logs the reason.
var ignoredKeys = map[iniKey]string{
	{"", "introspection_daemon"}:               "only used by IPA's ironic-collect-introspection-data command",
	{"", "introspection_daemon_post_interval"}: "only used by IPA's ironic-collect-introspection-data command",
	{"", "log_file"}:                           "metalagent logs to stderr",
	{"", "log_dir"}:                            "metalagent logs to stderr",
	{"", "use_stderr"}:                         "metalagent logs to stderr",
	{"", "use_syslog"}:                         "metalagent logs to stderr",
	{"", "use_journal"}:                        "metalagent logs to stderr",
	{"", "verbose"}:                            "not an option of current oslo.log; use debug",
}

// ignoredGroups are IPA's other INI sections, with the reason metalagent
// does not read them.
var ignoredGroups = map[string]string{
	"disk_utils":       "partition images are not implemented; whole-disk images are written in fixed-size blocks",
	"disk_partitioner": "partition images are not implemented",
	"metrics":          "metrics settings come from Ironic's lookup answer",
	"metrics_statsd":   "metrics settings come from Ironic's lookup answer",
	"container":        "container steps are not implemented",
	"mdns":             noMDNS,
	"ssl":              "of [ssl], only cert_file and key_file are read",
}

// optionsByKey finds options by INI key, aliases included.
var optionsByKey = func() map[iniKey]*option {
	m := map[iniKey]*option{}
	for _, o := range options {
		if o.inFiles() {
			m[o.key()] = o
			if o.alias != nil {
				m[*o.alias] = o
			}
		}
	}
	return m
}()

// optionsByKernel finds options by kernel parameter.
var optionsByKernel = func() map[string]*option {
	m := map[string]*option{}
	for _, o := range options {
		if o.kernel != "" {
			m[o.kernel] = o
		}
	}
	return m
}()
