package ironic

import (
	"encoding/json"
	"fmt"
	"slices"
)

// LookupConfig is the "config" of a lookup answer. Ironic adds keys over
// releases (see docs/ipa-compatibility.md and testdata/lookup-*.json): it
// is decoded key by key, so that a key this agent does not know, or a
// known one of an unexpected type, never fails a lookup; they are listed
// in Unknown and Ignored instead, as IPA ignores what it does not read.
type LookupConfig struct {
	// HeartbeatTimeout is Ironic's ramdisk_heartbeat_timeout in seconds.
	HeartbeatTimeout float64
	// AgentToken is the token, "******" when it was already handed out,
	// or nil.
	AgentToken *string
	// AgentTokenRequired is always true from Ironic (since Victoria).
	AgentTokenRequired bool
	// DisableDeepInspect and PermittedFormats: Ironic 21.4.4 (2023.1,
	// CVE-2024-44082) and 2024.2+; nil when absent.
	DisableDeepInspect *bool
	PermittedFormats   []string
	// AgentMD5ChecksumEnable is [agent]allow_md5_checksum (2023.2+).
	AgentMD5ChecksumEnable *bool
	// EnableBIOSBootloaderInstall is [agent]enable_bios_bootloader_install
	// (2025.1+).
	EnableBIOSBootloaderInstall *bool
	// AgentSkipBMCDetect is true when the node's management interface
	// knows the BMC out of band (2025.2+).
	AgentSkipBMCDetect *bool
	// TLSMinVersion ("1.2" or "1.3") and TLSCipherSuites (OpenSSL's
	// notation) are [agent]tls_minimum_version and tls_ciphers (after
	// 2026.1); "" when absent or null.
	TLSMinVersion   string
	TLSCipherSuites string
	// Metrics, MetricsStatsd and AgentContainers are kept as sent: the
	// agent has its own metrics and no container steps.
	Metrics, MetricsStatsd, AgentContainers json.RawMessage
	// Unknown are keys this agent does not know (a newer Ironic's);
	// Ignored are known keys whose value had an unexpected type. Both
	// sorted.
	Unknown, Ignored []string
}

// configKeys decode each known key into its field.
var configKeys = map[string]func(c *LookupConfig, v json.RawMessage) error{
	"heartbeat_timeout":              into(func(c *LookupConfig) *float64 { return &c.HeartbeatTimeout }),
	"agent_token":                    into(func(c *LookupConfig) **string { return &c.AgentToken }),
	"agent_token_required":           into(func(c *LookupConfig) *bool { return &c.AgentTokenRequired }),
	"disable_deep_image_inspection":  into(func(c *LookupConfig) **bool { return &c.DisableDeepInspect }),
	"permitted_image_formats":        into(func(c *LookupConfig) *[]string { return &c.PermittedFormats }),
	"agent_md5_checksum_enable":      into(func(c *LookupConfig) **bool { return &c.AgentMD5ChecksumEnable }),
	"enable_bios_bootloader_install": into(func(c *LookupConfig) **bool { return &c.EnableBIOSBootloaderInstall }),
	"agent_skip_bmc_detect":          into(func(c *LookupConfig) **bool { return &c.AgentSkipBMCDetect }),
	"tls_min_version":                into(func(c *LookupConfig) *string { return &c.TLSMinVersion }),
	"tls_cipher_suites":              into(func(c *LookupConfig) *string { return &c.TLSCipherSuites }),
	"metrics":                        into(func(c *LookupConfig) *json.RawMessage { return &c.Metrics }),
	"metrics_statsd":                 into(func(c *LookupConfig) *json.RawMessage { return &c.MetricsStatsd }),
	"agent_containers":               into(func(c *LookupConfig) *json.RawMessage { return &c.AgentContainers }),
}

// into decodes a value into the field, which keeps its zero value when
// the value has another type (or is null).
func into[T any](field func(*LookupConfig) *T) func(*LookupConfig, json.RawMessage) error {
	return func(c *LookupConfig, v json.RawMessage) error {
		var x T
		if err := json.Unmarshal(v, &x); err != nil {
			return err
		}
		*field(c) = x
		return nil
	}
}

// UnmarshalJSON decodes the config key by key (see LookupConfig).
func (c *LookupConfig) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("lookup config: %w", err)
	}
	*c = LookupConfig{}
	for k, v := range raw {
		decode, ok := configKeys[k]
		if !ok {
			c.Unknown = append(c.Unknown, k)
			continue
		}
		if err := decode(c, v); err != nil {
			c.Ignored = append(c.Ignored, k)
		}
	}
	slices.Sort(c.Unknown)
	slices.Sort(c.Ignored)
	return nil
}
