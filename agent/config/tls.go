package config

import (
	"errors"
)

// DefaultTLSDir is where auto-TLS writes agent.crt and agent.key (IPA:
// /run/ironic-python-agent).
const DefaultTLSDir = "/run/metalagent"

// checkTLSSettings refuses a TLS listener without its key pair and makes
// the callback URL follow the listener. IPA leaves advertise_protocol at
// http with listen_tls, and the conductor then fails to reach the agent;
// here, unless the operator chose the scheme, it is https.
func (c *Config) checkTLSSettings() error {
	if !c.ListenTLS {
		return nil
	}
	if c.TLSCertFile == "" || c.TLSKeyFile == "" {
		return errors.New("--listen-tls needs --tls-cert-file and --tls-key-file (files: tls_cert_file and tls_key_file, or [ssl] cert_file and key_file)")
	}
	if _, chosen := c.Sources["advertise_protocol"]; !chosen {
		c.AdvertiseProtocol = "https"
	}
	return nil
}
