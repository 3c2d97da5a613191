package config

import (
	"fmt"

	"github.com/spf13/pflag"

	"github.com/metalagent/metalagent/agent/tlsconf"
)

// DefaultTLSDir is where auto-TLS writes agent.crt and agent.key (IPA:
// /run/ironic-python-agent).
const DefaultTLSDir = "/run/metalagent"

// addTLSFlags adds the agent API's TLS flags to fs and returns what
// finishes them once flags and kernel parameters are parsed.
func addTLSFlags(fs *pflag.FlagSet, c *Config) func() error {
	var skew float64
	fs.BoolVar(&c.ListenTLS, "listen-tls", false, "serve the API over TLS with --cert-file and --key-file; the callback URL then defaults to https (IPA: listen_tls; kernel: metalagent-listen-tls)")
	fs.StringVar(&c.TLSCertFile, "cert-file", "", "PEM certificate (then any intermediates) for --listen-tls (IPA: tls_cert_file, [ssl] cert_file; kernel: metalagent-tls-cert-file)")
	fs.StringVar(&c.TLSKeyFile, "key-file", "", "unencrypted PEM private key for --listen-tls (IPA: tls_key_file, [ssl] key_file; kernel: metalagent-tls-key-file)")
	fs.StringVar(&c.TLSCertFile, "tls-cert-file", "", "same as --cert-file")
	fs.StringVar(&c.TLSKeyFile, "tls-key-file", "", "same as --key-file")
	_ = fs.MarkHidden("tls-cert-file")
	_ = fs.MarkHidden("tls-key-file")
	fs.BoolVar(&c.EnableAutoTLS, "enable-auto-tls", true, "without --listen-tls, serve the API over TLS with a self-signed certificate sent to Ironic as agent_verify_ca, when Ironic's API is 1.68 or newer (IPA: enable_auto_tls; kernel: metalagent-enable-auto-tls)")
	fs.Float64Var(&skew, "auto-tls-allowed-clock-skew", 3600, "seconds the auto-TLS certificate is back-dated, for a conductor whose clock is behind (IPA: auto_tls_allowed_clock_skew; kernel: metalagent-auto-tls-allowed-clock-skew)")
	fs.StringVar(&c.TLSCertificateCurve, "tls-certificate-curve", "p256", "curve of the auto-TLS key: p256 (IPA 9.4), p384 (newer IPA's default) or p521 (kernel: ipa-tls-certificate-curve)")
	fs.StringVar(&c.TLSMinVersion, "tls-min-version", "1.2", "lowest TLS version the API accepts: 1.2 or 1.3 (kernel: ipa-tls-min-version)")
	fs.StringVar(&c.TLSDir, "tls-dir", DefaultTLSDir, "directory auto-TLS writes agent.crt and agent.key to (kernel: metalagent-tls-dir)")
	return func() error {
		c.AutoTLSAllowedClockSkew = seconds(skew)
		if skew < 0 {
			return fmt.Errorf("auto-TLS allowed clock skew %v: must not be negative", skew)
		}
		if err := tlsconf.CheckCurve(c.TLSCertificateCurve); err != nil {
			return err
		}
		if _, err := tlsconf.ParseMinVersion(c.TLSMinVersion); err != nil {
			return err
		}
		if c.ListenTLS && (c.TLSCertFile == "" || c.TLSKeyFile == "") {
			return fmt.Errorf("--listen-tls needs --cert-file and --key-file (kernel: metalagent-tls-cert-file, metalagent-tls-key-file)")
		}
		// IPA leaves advertise_protocol at http with listen_tls; the
		// conductor then fails to talk to the agent. Unless the operator
		// chose the scheme, it follows the listener.
		if c.ListenTLS && !fs.Changed("advertise-protocol") {
			c.AdvertiseProtocol = "https"
		}
		return nil
	}
}
