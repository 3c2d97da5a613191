package tlsconf

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"
)

// LoadKeyPair reads the operator's certificate (PEM, the server's first,
// then any intermediates) and private key (PEM: PKCS#8, PKCS#1 or SEC 1)
// for static TLS. Every error names the file and the problem: unreadable,
// not PEM, no certificate or key in it, an encrypted key, a key that does
// not belong to the certificate, a certificate expired at now. A
// certificate not valid yet is returned without error (the caller may
// warn: the node's clock may be the one that is wrong).
func LoadKeyPair(certFile, keyFile string, now time.Time) (tls.Certificate, error) {
	var none tls.Certificate
	if certFile == "" || keyFile == "" {
		return none, errors.New("static TLS needs both a certificate file and a key file")
	}
	chain, leaf, err := readCertificates(certFile)
	if err != nil {
		return none, err
	}
	key, err := readPrivateKey(keyFile)
	if err != nil {
		return none, err
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(leaf.PublicKey) {
		return none, fmt.Errorf("TLS key file %s does not match the certificate in %s (key mismatch)", keyFile, certFile)
	}
	if now.After(leaf.NotAfter) {
		return none, fmt.Errorf("TLS certificate file %s: certificate %q expired on %s (now %s)",
			certFile, leaf.Subject.String(), leaf.NotAfter.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return tls.Certificate{Certificate: chain, PrivateKey: key, Leaf: leaf}, nil
}

// readCertificates returns the DER of every CERTIFICATE block of path, in
// order, and the first one parsed.
func readCertificates(path string) ([][]byte, *x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("TLS certificate file: %w", err)
	}
	var chain [][]byte
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			chain = append(chain, b.Bytes)
		}
	}
	if len(chain) == 0 {
		if !bytes.Contains(data, []byte("-----BEGIN")) {
			return nil, nil, fmt.Errorf("TLS certificate file %s: not PEM (no -----BEGIN CERTIFICATE----- block; DER must be converted)", path)
		}
		return nil, nil, fmt.Errorf("TLS certificate file %s: no CERTIFICATE block in its PEM", path)
	}
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		return nil, nil, fmt.Errorf("TLS certificate file %s: first certificate: %w", path, err)
	}
	for i, der := range chain[1:] {
		if _, err := x509.ParseCertificate(der); err != nil {
			return nil, nil, fmt.Errorf("TLS certificate file %s: certificate %d of the chain: %w", path, i+2, err)
		}
	}
	return chain, leaf, nil
}

// readPrivateKey returns the first private key block of path.
func readPrivateKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("TLS key file: %w", err)
	}
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch b.Type {
		case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
		case "ENCRYPTED PRIVATE KEY":
			return nil, fmt.Errorf("TLS key file %s: the key is encrypted; the agent needs an unencrypted key", path)
		default:
			continue
		}
		if _, encrypted := b.Headers["DEK-Info"]; encrypted {
			return nil, fmt.Errorf("TLS key file %s: the key is encrypted; the agent needs an unencrypted key", path)
		}
		key, err := parsePrivateKey(b)
		if err != nil {
			return nil, fmt.Errorf("TLS key file %s: %w", path, err)
		}
		return key, nil
	}
	if !bytes.Contains(data, []byte("-----BEGIN")) {
		return nil, fmt.Errorf("TLS key file %s: not PEM (no -----BEGIN PRIVATE KEY----- block)", path)
	}
	return nil, fmt.Errorf("TLS key file %s: no private key block in its PEM", path)
}

// parsePrivateKey decodes a PKCS#8, PKCS#1 or SEC 1 key block.
func parsePrivateKey(b *pem.Block) (crypto.Signer, error) {
	var key any
	var err error
	switch b.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(b.Bytes)
	default:
		key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", b.Type, err)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	}
	return nil, fmt.Errorf("unsupported private key type %T", key)
}
