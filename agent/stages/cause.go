package stages

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
)

// Hinter is an error that knows what it most likely means for the
// operator (the Ironic client's refusals do: a lookup 404 is a node
// Ironic does not know, or one not waiting for an agent).
type Hinter interface {
	Hint() string
}

// Explain returns what err most likely means, naming the setting or the
// state to check, or "" when it has nothing to add to err's own text. It
// looks through wrapped errors: a Hinter's hint first, then certificate
// problems (unknown authority, expired, wrong host name), TLS spoken to a
// plain server, name resolution, refused and unreachable connections and
// timeouts.
func Explain(err error) string {
	if err == nil {
		return ""
	}
	var h Hinter
	if errors.As(err, &h) {
		if hint := h.Hint(); hint != "" {
			return hint
		}
	}
	if c := certCause(err); c != "" {
		return c
	}
	var rh tls.RecordHeaderError
	if errors.As(err, &rh) || strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
		return "the server does not speak TLS: the URL says https:// but the server answers plain HTTP (use http:// or enable TLS on the server)"
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return fmt.Sprintf("cannot resolve host name %q: check DNS (the ramdisk's resolv.conf, the DHCP answer) or put an IP address in the URL", dns.Name)
	}
	addr := "the server"
	var op *net.OpError
	if errors.As(err, &op) && op.Addr != nil {
		addr = op.Addr.String()
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("connection refused: nothing listens at %s (the API is down, or the URL has a wrong port?)", addr)
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return fmt.Sprintf("no route to %s: the network is not configured (no DHCP lease?) or the address is wrong", addr)
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return fmt.Sprintf("no answer from %s in time: a firewall, a wrong address, or an overloaded server", addr)
	}
	return ""
}

// certCause explains a failed verification of a server's certificate.
func certCause(err error) string {
	var ua x509.UnknownAuthorityError
	if errors.As(err, &ua) {
		issuer := "unknown issuer"
		if ua.Cert != nil {
			issuer = ua.Cert.Issuer.String()
		}
		return fmt.Sprintf("certificate signed by unknown authority (Ironic's CA not in ipa-cafile?): the server's certificate is issued by %q, which the agent does not trust", issuer)
	}
	var inv x509.CertificateInvalidError
	if errors.As(err, &inv) {
		if inv.Reason == x509.Expired {
			return fmt.Sprintf("certificate expired or not yet valid (%s): check the node's clock (ipa-ntp-server) and the server certificate's dates", inv.Detail)
		}
		return "the server's certificate is not valid for TLS server use: " + inv.Error()
	}
	var hn x509.HostnameError
	if errors.As(err, &hn) {
		return fmt.Sprintf("wrong host name: %s; the URL must name the server as its certificate does", strings.TrimPrefix(hn.Error(), "x509: "))
	}
	var ci x509.ConstraintViolationError
	if errors.As(err, &ci) {
		return "the server's certificate breaks a constraint of its CA: " + ci.Error()
	}
	return ""
}

// isTimeout reports whether err is a network timeout.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
