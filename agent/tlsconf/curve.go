package tlsconf

import (
	"crypto/elliptic"
	"crypto/x509"
	"fmt"
	"strings"
)

// curveChoice is a key curve of auto-TLS and the signature that goes with
// it.
type curveChoice struct {
	name      string
	curve     elliptic.Curve
	signature x509.SignatureAlgorithm
}

// curves are the names IPA accepts for tls_certificate_curve (newer IPA;
// IPA 9.4 always uses P-256).
var curves = map[string]curveChoice{
	"p256": {"P-256", elliptic.P256(), x509.ECDSAWithSHA256},
	"p384": {"P-384", elliptic.P384(), x509.ECDSAWithSHA384},
	"p521": {"P-521", elliptic.P521(), x509.ECDSAWithSHA512},
}

// CheckCurve checks an auto-TLS curve name: p256 (the default, also for
// ""), p384 or p521, case-insensitive.
func CheckCurve(name string) error {
	_, err := lookupCurve(name)
	return err
}

// lookupCurve returns the curve named name (see CheckCurve).
func lookupCurve(name string) (curveChoice, error) {
	if name == "" {
		name = "p256"
	}
	c, ok := curves[strings.ToLower(name)]
	if !ok {
		return curveChoice{}, fmt.Errorf("certificate curve %q: want p256, p384 or p521", name)
	}
	return c, nil
}
