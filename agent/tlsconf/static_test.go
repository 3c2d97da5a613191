package tlsconf

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/metalagent/metalagent/agent/tlsconf/tlstest"
)

func TestLoadKeyPair(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t)
	now := time.Now()
	cert, key := ca.Issue(t, dir, "good", "192.0.2.10", now.Add(-time.Hour), now.Add(time.Hour))
	expired, expiredKey := ca.Issue(t, dir, "expired", "192.0.2.10", now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	future, futureKey := ca.Issue(t, dir, "future", "192.0.2.10", now.Add(24*time.Hour), now.Add(48*time.Hour))
	_, otherKey := ca.Issue(t, dir, "other", "192.0.2.11", now.Add(-time.Hour), now.Add(time.Hour))

	certPEM, _ := os.ReadFile(cert)
	keyPEM, _ := os.ReadFile(key)
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		tlstest.WriteFile(t, p, data)
		return p
	}
	chain := write("chain.crt", append(append([]byte{}, certPEM...), ca.CertPEM...))
	// The key in SEC 1 form after an EC PARAMETERS block, as openssl
	// ecparam -genkey writes it.
	b, _ := pem.Decode(keyPEM)
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	sec1, err := x509.MarshalECPrivateKey(k.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	ecKey := write("sec1.key", append([]byte("-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})...))
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pkcs1 := write("rsa.key", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}))
	garbage := write("garbage.crt", []byte("this is not a certificate\n"))
	keyOnly := write("key-as-cert.crt", keyPEM)
	badDER := write("bad-der.crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0x03, 0x02, 0x01, 0x01}}))

	tests := []struct {
		name      string
		cert, key string
		want      []string // substrings of the error; none: success
		chainLen  int
	}{
		{"CA-issued pair", cert, key, nil, 1},
		{"chain with intermediates", chain, key, nil, 2},
		{"SEC 1 key after EC PARAMETERS", cert, ecKey, nil, 1},
		{"not yet valid loads (the node's clock may be wrong)", future, futureKey, nil, 1},
		{"expired", expired, expiredKey, []string{expired, "expired on"}, 0},
		{"key of another certificate", cert, otherKey, []string{otherKey, cert, "key mismatch"}, 0},
		{"RSA key for an ECDSA certificate", cert, pkcs1, []string{pkcs1, "key mismatch"}, 0},
		{"certificate not PEM", garbage, key, []string{garbage, "not PEM"}, 0},
		{"certificate in DER", "testdata/cert.der", key, []string{"testdata/cert.der", "not PEM"}, 0},
		{"certificate file holds a key", keyOnly, key, []string{keyOnly, "no CERTIFICATE block"}, 0},
		{"certificate unparsable", badDER, key, []string{badDER, "first certificate"}, 0},
		{"key not PEM", cert, garbage, []string{garbage, "not PEM"}, 0},
		{"key file holds a certificate", cert, cert, []string{cert, "no private key block"}, 0},
		{"encrypted PKCS#8 key", cert, "testdata/encrypted-pkcs8.key", []string{"testdata/encrypted-pkcs8.key", "encrypted"}, 0},
		{"encrypted legacy PEM key", cert, "testdata/encrypted-legacy.key", []string{"testdata/encrypted-legacy.key", "encrypted"}, 0},
		{"missing certificate file", filepath.Join(dir, "nope.crt"), key, []string{filepath.Join(dir, "nope.crt"), "no such file"}, 0},
		{"missing key file", cert, filepath.Join(dir, "nope.key"), []string{filepath.Join(dir, "nope.key"), "no such file"}, 0},
		{"no key file given", cert, "", []string{"both a certificate file and a key file"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LoadKeyPair(tt.cert, tt.key, now)
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if len(got.Certificate) != tt.chainLen || got.Leaf == nil || got.PrivateKey == nil {
					t.Errorf("certificate chain %d (want %d), leaf %v, key %T", len(got.Certificate), tt.chainLen, got.Leaf != nil, got.PrivateKey)
				}
				return
			}
			if err == nil {
				t.Fatalf("loaded; want an error mentioning %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
