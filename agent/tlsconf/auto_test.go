package tlsconf

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestGenerateAuto(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		opts      AutoOptions
		curve     elliptic.Curve
		sig       x509.SignatureAlgorithm
		ip        string
		dns       string
		notBefore time.Time
	}{
		{"IPv4, IPA defaults", AutoOptions{Host: "192.0.2.10", ClockSkew: time.Hour}, elliptic.P256(), x509.ECDSAWithSHA256, "192.0.2.10", "", now.Add(-time.Hour)},
		{"IPv6 in brackets", AutoOptions{Host: "[2001:db8::5]", ClockSkew: 0}, elliptic.P256(), x509.ECDSAWithSHA256, "2001:db8::5", "", now},
		{"link-local with zone", AutoOptions{Host: "fe80::1%eth0", ClockSkew: time.Minute}, elliptic.P256(), x509.ECDSAWithSHA256, "fe80::1", "", now.Add(-time.Minute)},
		{"DNS name", AutoOptions{Host: "node-1.example.org", ClockSkew: time.Hour}, elliptic.P256(), x509.ECDSAWithSHA256, "", "node-1.example.org", now.Add(-time.Hour)},
		{"newer IPA's P-384", AutoOptions{Host: "192.0.2.10", Curve: "P384", ClockSkew: time.Hour}, elliptic.P384(), x509.ECDSAWithSHA384, "192.0.2.10", "", now.Add(-time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.opts
			o.CommonName = "ramdisk-host"
			o.Now = func() time.Time { return now }
			a, err := GenerateAuto(t.Context(), o)
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(t.TempDir(), "run", "metalagent")
			if err := a.WriteFiles(dir); err != nil {
				t.Fatal(err)
			}
			c := a.Leaf
			if c.Subject.CommonName != "ramdisk-host" || c.Issuer.CommonName != "ramdisk-host" {
				t.Errorf("subject %q issuer %q, want CN=ramdisk-host for both", c.Subject, c.Issuer)
			}
			if err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature); err != nil {
				t.Errorf("not self-signed: %v", err)
			}
			if c.SignatureAlgorithm != tt.sig {
				t.Errorf("signature %v, want %v", c.SignatureAlgorithm, tt.sig)
			}
			pub, ok := c.PublicKey.(*ecdsa.PublicKey)
			if !ok || pub.Curve != tt.curve {
				t.Errorf("public key %T on %v, want ECDSA on %v", c.PublicKey, pub.Curve.Params().Name, tt.curve.Params().Name)
			}
			if !c.NotBefore.Equal(tt.notBefore) || !c.NotAfter.Equal(now.Add(30*24*time.Hour)) {
				t.Errorf("validity [%s, %s], want [%s, now+30d]", c.NotBefore, c.NotAfter, tt.notBefore)
			}
			var ips []string
			for _, ip := range c.IPAddresses {
				ips = append(ips, ip.String())
			}
			if tt.ip != "" && (len(ips) != 1 || ips[0] != tt.ip || len(c.DNSNames) != 0) {
				t.Errorf("SANs IP %v DNS %v, want IP %s only", ips, c.DNSNames, tt.ip)
			}
			if tt.dns != "" && (len(c.DNSNames) != 1 || c.DNSNames[0] != tt.dns || len(ips) != 0) {
				t.Errorf("SANs IP %v DNS %v, want DNS %s only", ips, c.DNSNames, tt.dns)
			}
			checkFiles(t, a, dir)
		})
	}
}

// checkFiles checks that dir holds the pair a describes, loadable as a
// key pair, with the key private to root.
func checkFiles(t *testing.T, a *Auto, dir string) {
	t.Helper()
	if a.CertFile != filepath.Join(dir, "agent.crt") || a.KeyFile != filepath.Join(dir, "agent.key") {
		t.Fatalf("files %s %s, want agent.crt and agent.key in %s", a.CertFile, a.KeyFile, dir)
	}
	certPEM, err := os.ReadFile(a.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	if string(certPEM) != a.CertPEM {
		t.Errorf("agent.crt differs from the PEM to be sent as agent_verify_ca")
	}
	keyPEM, err := os.ReadFile(a.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := pem.Decode(keyPEM); b == nil || b.Type != "PRIVATE KEY" {
		t.Errorf("agent.key is not a PKCS#8 PEM key: %q", firstLine(string(keyPEM)))
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		t.Errorf("written pair does not load: %v", err)
	}
	st, err := os.Stat(a.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("agent.key mode %v, want 0600", st.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("%s holds %d entries, want agent.crt and agent.key only (no temporary files)", dir, len(entries))
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func TestGenerateAutoRefuses(t *testing.T) {
	tests := []struct {
		name string
		opts AutoOptions
		want string
	}{
		{"no host", AutoOptions{}, "no advertised address"},
		{"bad curve", AutoOptions{Host: "192.0.2.1", Curve: "p224"}, `curve "p224"`},
		{"negative skew", AutoOptions{Host: "192.0.2.1", ClockSkew: -time.Second}, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := GenerateAuto(t.Context(), tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestWriteFilesUnwritableDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	a, err := GenerateAuto(context.Background(), AutoOptions{Host: "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	err = a.WriteFiles(filepath.Join(file, "sub"))
	if err == nil || !strings.Contains(err.Error(), "create "+filepath.Join(file, "sub")) {
		t.Fatalf("err = %v, want the directory's creation error naming it", err)
	}
	if a.CertFile != "" || a.KeyFile != "" {
		t.Errorf("files recorded after a failed write: %s %s", a.CertFile, a.KeyFile)
	}
}

func TestGenerateAutoEachCallIsNew(t *testing.T) {
	a, err := GenerateAuto(context.Background(), AutoOptions{Host: "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := GenerateAuto(context.Background(), AutoOptions{Host: "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	if a.CertPEM == b.CertPEM || a.Leaf.SerialNumber.Cmp(b.Leaf.SerialNumber) == 0 {
		t.Error("two generations gave the same certificate or serial")
	}
}

// BenchmarkGenerateAuto measures what auto-TLS adds to the start-to-API
// path (key and certificate), per curve.
func BenchmarkGenerateAuto(b *testing.B) {
	for _, curve := range []string{"p256", "p384"} {
		b.Run(curve, func(b *testing.B) {
			for b.Loop() {
				if _, err := GenerateAuto(context.Background(), AutoOptions{Host: "192.0.2.1", Curve: curve, ClockSkew: time.Hour}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWriteFiles measures writing the pair (off the start-to-API
// path) into the test's temporary directory; $TMPDIR chooses the file
// system.
func BenchmarkWriteFiles(b *testing.B) {
	a, err := GenerateAuto(context.Background(), AutoOptions{Host: "192.0.2.1"})
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	for b.Loop() {
		if err := a.WriteFiles(dir); err != nil {
			b.Fatal(err)
		}
	}
}
