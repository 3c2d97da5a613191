package tlsconf

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Names of the generated files in AutoOptions.Dir, as IPA names them in
// /run/ironic-python-agent.
const (
	CertFileName = "agent.crt"
	KeyFileName  = "agent.key"
)

// DefaultValidity is how long a generated certificate is valid after its
// generation (IPA: 30 days).
const DefaultValidity = 30 * 24 * time.Hour

// AutoOptions describe the self-signed certificate of auto-TLS.
type AutoOptions struct {
	// Host is the advertised address the certificate is for: an IP
	// address (IPA's case) becomes an IP subject alternative name, a DNS
	// name a DNS one.
	Host string
	// CommonName is the subject's CN (IPA: the host name); empty means
	// os.Hostname.
	CommonName string
	// ClockSkew back-dates notBefore (IPA's auto_tls_allowed_clock_skew),
	// so that a conductor whose clock is behind the node's still accepts
	// the certificate.
	ClockSkew time.Duration
	// Validity is how long after now the certificate stays valid; zero
	// means DefaultValidity.
	Validity time.Duration
	// Curve is the key's curve name (see CheckCurve); empty means p256,
	// IPA 9.4's only curve.
	Curve string
	// Key, when set, is a key started earlier (GenerateKeyAsync); its
	// curve replaces Curve. Without it a key is made on the spot.
	Key *PendingKey
	// Now, when set, replaces time.Now (tests).
	Now func() time.Time
}

// Auto is a generated certificate and its key.
type Auto struct {
	// Certificate serves the API.
	Certificate tls.Certificate
	// CertPEM is the certificate as PEM text, sent as agent_verify_ca.
	CertPEM string
	// Leaf is the parsed certificate.
	Leaf *x509.Certificate
	// CertFile and KeyFile are where WriteFiles wrote the pair ("" before).
	CertFile, KeyFile string

	keyPEM []byte
}

// GenerateAuto makes a fresh key and a self-signed certificate for
// o.Host, as IPA's auto-TLS does: CN = host name, one subject alternative
// name, notBefore = now − ClockSkew, notAfter = now + Validity, signed
// with ECDSA and SHA-256 (SHA-384/512 for the larger curves). Nothing is
// written: see WriteFiles.
func GenerateAuto(ctx context.Context, o AutoOptions) (*Auto, error) {
	host := strings.TrimSuffix(strings.TrimPrefix(o.Host, "["), "]")
	if host == "" {
		return nil, errors.New("auto-TLS: no advertised address to issue the certificate for")
	}
	curveName := o.Curve
	if o.Key != nil {
		curveName = o.Key.curve
	}
	curve, err := lookupCurve(curveName)
	if err != nil {
		return nil, fmt.Errorf("auto-TLS: %w", err)
	}
	cn := o.CommonName
	if cn == "" {
		cn, _ = os.Hostname()
		if cn == "" {
			cn = "metalagent"
		}
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	validity := o.Validity
	if validity <= 0 {
		validity = DefaultValidity
	}
	if o.ClockSkew < 0 {
		return nil, fmt.Errorf("auto-TLS: clock skew %s is negative", o.ClockSkew)
	}

	var key *ecdsa.PrivateKey
	if o.Key != nil {
		key, err = o.Key.wait(ctx)
	} else {
		key, err = generateKey(curve)
	}
	if err != nil {
		return nil, fmt.Errorf("auto-TLS: %w", err)
	}
	t := now()
	der, leaf, err := selfSigned(key, curve, cn, host, t.Add(-o.ClockSkew), t.Add(validity))
	if err != nil {
		return nil, fmt.Errorf("auto-TLS: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("auto-TLS: encode key: %w", err)
	}
	return &Auto{
		Certificate: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf},
		CertPEM:     string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		Leaf:        leaf,
		keyPEM:      pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}, nil
}

// selfSigned makes a certificate for host signed by key itself, as IPA's:
// subject and issuer CN=cn, one subject alternative name (IP address or
// DNS name), a random 127-bit serial, no extensions beyond that.
func selfSigned(key *ecdsa.PrivateKey, c curveChoice, cn, host string, notBefore, notAfter time.Time) ([]byte, *x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("serial number: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:       serial,
		Subject:            pkix.Name{CommonName: cn},
		NotBefore:          notBefore,
		NotAfter:           notAfter,
		SignatureAlgorithm: c.signature,
	}
	// The zone of a link-local address (fe80::1%eth0) is not part of
	// the address a client connects to.
	if ip := net.ParseIP(strings.SplitN(host, "%", 2)[0]); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{host}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("parse the generated certificate: %w", err)
	}
	return der, leaf, nil
}

// WriteFiles stores the pair in dir (created if missing) as agent.crt and
// agent.key (PKCS#8, mode 0600), each through a rename, the key first so
// that a certificate on disk always has its key beside it. The files are
// for the operator; the agent serves from memory. On a disk-backed
// directory this costs milliseconds, so the agent calls it after the API
// is up.
func (a *Auto) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("auto-TLS: create %s: %w", dir, err)
	}
	keyFile := filepath.Join(dir, KeyFileName)
	if err := writeFileAtomic(keyFile, a.keyPEM, 0o600); err != nil {
		return fmt.Errorf("auto-TLS: write key: %w", err)
	}
	certFile := filepath.Join(dir, CertFileName)
	if err := writeFileAtomic(certFile, []byte(a.CertPEM), 0o644); err != nil {
		return fmt.Errorf("auto-TLS: write certificate: %w", err)
	}
	a.CertFile, a.KeyFile = certFile, keyFile
	return nil
}
