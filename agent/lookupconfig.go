package agent

import (
	"github.com/hashicorp/go-hclog"

	"github.com/metalagent/metalagent/agent/ironic"
	"github.com/metalagent/metalagent/agent/tlsconf"
)

// applyLookupConfig takes from a lookup's config what the agent uses
// beyond the token and heartbeat timeout, as current IPA does: Ironic's
// tls_min_version for the API's TLS. The rest of what newer Ironic sends
// is logged, with a warning where the agent does less than Ironic asks.
func (a *Agent) applyLookupConfig(c ironic.LookupConfig, log hclog.Logger) {
	if v := c.TLSMinVersion; v != "" {
		if _, err := tlsconf.ParseMinVersion(v); err != nil {
			log.Warn("Ironic's tls_min_version ignored", "tls_min_version", v, "error", err)
		} else if v != a.cfg.TLSMinVersion {
			log.Info("TLS minimum version of the API set by Ironic", "tls_min_version", v, "was", a.cfg.TLSMinVersion)
			a.cfg.TLSMinVersion = v
		}
	}
	if c.TLSCipherSuites != "" {
		log.Info("Ironic's tls_cipher_suites not applied: the API's TLS 1.2 suites are ECDHE with AEAD ciphers only",
			"tls_cipher_suites", c.TLSCipherSuites)
	}
	if c.AgentMD5ChecksumEnable != nil && !*c.AgentMD5ChecksumEnable {
		log.Warn("Ironic disables MD5 image checksums (agent_md5_checksum_enable false); this agent version still verifies " +
			"an image with MD5 when that is the only checksum given")
	}
	if len(c.Unknown) > 0 {
		log.Info("lookup config keys this agent does not know (a newer Ironic); ignored", "keys", c.Unknown)
	}
	if len(c.Ignored) > 0 {
		log.Warn("lookup config keys with values of an unexpected type; ignored", "keys", c.Ignored)
	}
	log.Debug("lookup config", "disable_deep_image_inspection", deref(c.DisableDeepInspect),
		"permitted_image_formats", c.PermittedFormats, "agent_md5_checksum_enable", deref(c.AgentMD5ChecksumEnable),
		"enable_bios_bootloader_install", deref(c.EnableBIOSBootloaderInstall), "agent_skip_bmc_detect", deref(c.AgentSkipBMCDetect))
}

// deref is *b for a log line, "unset" for nil.
func deref(b *bool) any {
	if b == nil {
		return "unset"
	}
	return *b
}

// withMinVersion returns t serving at least the TLS version v ("1.2" or
// "1.3"; anything else leaves t as it is).
func (t *apiTLS) withMinVersion(v string) *apiTLS {
	least, err := tlsconf.ParseMinVersion(v)
	if err != nil || t.config == nil || t.config.MinVersion == least {
		return t
	}
	c := *t
	c.config = t.config.Clone()
	c.config.MinVersion = least
	return &c
}
