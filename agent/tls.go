package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/metalagent/metalagent/agent/ironic"
	"github.com/metalagent/metalagent/agent/tlsconf"
)

// TLS modes of the API, as logged.
const (
	tlsOff    = "off"
	tlsStatic = "static"
	tlsAuto   = "auto"
)

// apiTLS is how the API is served and what Ironic is told about it.
type apiTLS struct {
	// mode is tlsOff, tlsStatic or tlsAuto.
	mode string
	// config serves the API; nil for plain HTTP.
	config *tls.Config
	// leaf is the served certificate (static and auto).
	leaf *x509.Certificate
	// auto is the generated pair (auto only).
	auto *tlsconf.Auto
	// verifyCA is the auto-TLS certificate's PEM, sent as
	// agent_verify_ca; empty otherwise.
	verifyCA string
}

// plainAPI is the API without TLS.
var plainAPI = &apiTLS{mode: tlsOff}

// staticTLS loads the operator's certificate and key when --listen-tls
// asks for them (nil otherwise). Run calls it before lookup: an agent that
// exits after lookup has used up the token Ironic hands out once per
// boot, and its next start would get "******".
func (a *Agent) staticTLS() (*apiTLS, error) {
	if !a.cfg.ListenTLS {
		if a.cfg.TLSCertFile != "" || a.cfg.TLSKeyFile != "" {
			a.log.Warn("certificate and key files are ignored without --listen-tls", "cert_file", a.cfg.TLSCertFile, "key_file", a.cfg.TLSKeyFile)
		}
		return nil, nil
	}
	minVersion, err := tlsconf.ParseMinVersion(a.cfg.TLSMinVersion)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	cert, err := tlsconf.LoadKeyPair(a.cfg.TLSCertFile, a.cfg.TLSKeyFile, now)
	if err != nil {
		return nil, fmt.Errorf("static TLS: %w", err)
	}
	a.log.Info("static TLS: serving the operator's certificate", "cert_file", a.cfg.TLSCertFile,
		"subject", cert.Leaf.Subject.String(), "not_after", cert.Leaf.NotAfter.UTC())
	if now.Before(cert.Leaf.NotBefore) {
		a.log.Warn("static TLS: the certificate is not valid yet by this node's clock; check the clock (ipa-ntp-server) or the certificate",
			"not_before", cert.Leaf.NotBefore.UTC(), "now", now.UTC())
	}
	if a.cfg.AdvertiseProtocol != "https" {
		a.log.Warn("static TLS but the callback URL says "+a.cfg.AdvertiseProtocol+"; the conductor will not reach the API",
			"advertise_protocol", a.cfg.AdvertiseProtocol)
	}
	return &apiTLS{mode: tlsStatic, config: tlsconf.ServerConfig(cert, minVersion), leaf: cert.Leaf}, nil
}

// checkStaticName warns when the operator's certificate does not name the
// advertised host: the conductor checks it against the callback URL.
func (a *Agent) checkStaticName(t *apiTLS, host string, log hclog.Logger) {
	if t.mode != tlsStatic {
		return
	}
	if err := t.leaf.VerifyHostname(host); err != nil {
		log.Warn("static TLS: the certificate does not name the advertised host; the conductor's verification will fail",
			"advertise_host", host, "error", err)
	}
}

// autoTLS is IPA's auto-TLS: unless --listen-tls or --enable-auto-tls=false,
// and when Ironic takes agent_verify_ca (API 1.68), a certificate for the
// advertised host is made for this run with key, started at boot so that
// only the certificate (~0.2 ms warm, ~1 ms median cold) is on the
// start-to-API path; nil when auto-TLS does not apply.
func (a *Agent) autoTLS(ctx context.Context, client *ironic.Client, host string, key *tlsconf.PendingKey, log hclog.Logger) (*apiTLS, error) {
	if !a.cfg.EnableAutoTLS {
		log.Debug("auto-TLS disabled")
		return nil, nil
	}
	ok, version := client.SupportsAutoTLS(ctx)
	if !ok {
		log.Warn("Ironic's API does not take agent_verify_ca (1.68); serving plain HTTP", "ironic_api_version", version)
		return nil, nil
	}
	minVersion, err := tlsconf.ParseMinVersion(a.cfg.TLSMinVersion)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	auto, err := tlsconf.GenerateAuto(ctx, tlsconf.AutoOptions{
		Host:      host,
		ClockSkew: a.cfg.AutoTLSAllowedClockSkew,
		Curve:     a.cfg.TLSCertificateCurve,
		Key:       key,
	})
	if err != nil {
		return nil, err
	}
	log.Info("auto-TLS: certificate generated", "for", host, "curve", a.cfg.TLSCertificateCurve,
		"not_before", auto.Leaf.NotBefore.UTC(), "not_after", auto.Leaf.NotAfter.UTC(), "took", time.Since(start).Round(time.Microsecond))
	return &apiTLS{mode: tlsAuto, config: tlsconf.ServerConfig(auto.Certificate, minVersion), leaf: auto.Leaf, auto: auto, verifyCA: auto.CertPEM}, nil
}

// writeAutoTLS writes the auto-TLS pair to --tls-dir for the operator,
// after the API is up (milliseconds on a disk, nothing on /run's tmpfs).
// The agent serves from memory, so a failure is only a warning.
func (a *Agent) writeAutoTLS(t *apiTLS, log hclog.Logger) {
	if t.mode != tlsAuto || a.cfg.TLSDir == "" {
		return
	}
	if err := t.auto.WriteFiles(a.cfg.TLSDir); err != nil {
		log.Warn("auto-TLS: cannot write the certificate for the operator; the API serves it from memory", "error", err)
		return
	}
	log.Debug("auto-TLS: certificate written", "cert_file", t.auto.CertFile, "key_file", t.auto.KeyFile)
}

// protocol is the callback URL's scheme: https with auto-TLS (IPA forces
// it), otherwise the configured one, with a warning when it cannot work.
func (t *apiTLS) protocol(configured string, log hclog.Logger) string {
	switch {
	case t.mode == tlsAuto:
		return "https"
	case t.mode == tlsOff && configured == "https":
		log.Warn("the callback URL says https but the API serves plain HTTP (auto-TLS off or not supported by Ironic)")
	}
	return configured
}
