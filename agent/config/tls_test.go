package config

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// tlsSettings are the TLS fields of a Config, for comparison.
type tlsSettings struct {
	ListenTLS         bool
	Cert, Key         string
	Auto              bool
	Skew              time.Duration
	Curve, Min, Dir   string
	AdvertiseProtocol string
}

func tlsOf(c *Config) tlsSettings {
	return tlsSettings{c.ListenTLS, c.TLSCertFile, c.TLSKeyFile, c.EnableAutoTLS, c.AutoTLSAllowedClockSkew,
		c.TLSCertificateCurve, c.TLSMinVersion, c.TLSDir, c.AdvertiseProtocol}
}

func TestTLSSettings(t *testing.T) {
	defaults := tlsSettings{Auto: true, Skew: time.Hour, Curve: "p384", Min: "1.2", Dir: "/run/metalagent", AdvertiseProtocol: "http"}
	tests := []struct {
		name    string
		kernel  string
		args    []string
		want    func(s *tlsSettings)
		wantErr string
	}{
		{"IPA's defaults: auto-TLS on", "", nil, func(*tlsSettings) {}, ""},
		{"static TLS by flags; callback follows the listener", "",
			[]string{"--listen-tls", "--tls-cert-file", "/etc/a.crt", "--tls-key-file", "/etc/a.key"},
			func(s *tlsSettings) {
				s.ListenTLS, s.Cert, s.Key, s.AdvertiseProtocol = true, "/etc/a.crt", "/etc/a.key", "https"
			}, ""},
		{"static TLS by IPA 9.4's flag names", "",
			[]string{"--listen_tls", "--tls_cert_file=/k.crt", "--tls_key_file=/k.key"}, func(s *tlsSettings) {
				s.ListenTLS, s.Cert, s.Key, s.AdvertiseProtocol = true, "/k.crt", "/k.key", "https"
			}, ""},
		{"an explicit advertise protocol is kept", "ipa-advertise-protocol=http",
			[]string{"--listen-tls", "--tls-cert-file", "/a", "--tls-key-file", "/b"},
			func(s *tlsSettings) { s.ListenTLS, s.Cert, s.Key = true, "/a", "/b" }, ""},
		{"auto-TLS knobs by kernel parameters and flags",
			"ipa-tls-certificate-curve=p256 ipa-tls-min-version=1.3 metalagent-tls-dir=/run/x",
			[]string{"--enable-auto-tls=false", "--auto-tls-allowed-clock-skew=60"}, func(s *tlsSettings) {
				s.Auto, s.Skew, s.Curve, s.Min, s.Dir = false, time.Minute, "p256", "1.3", "/run/x"
			}, ""},
		{"flags win over kernel parameters", "ipa-tls-min-version=1.3",
			[]string{"--tls-min-version", "1.2"}, func(*tlsSettings) {}, ""},
		{"listen-tls without files", "", []string{"--listen-tls"}, nil, "needs --tls-cert-file and --tls-key-file"},
		{"listen-tls without key", "", []string{"--listen-tls", "--tls-cert-file", "/a"}, nil, "needs --tls-cert-file and --tls-key-file"},
		{"bad curve", "ipa-tls-certificate-curve=p192", nil, nil, `ipa-tls-certificate-curve: "p192" is not one of p256, p384, p521`},
		{"bad minimum version", "", []string{"--tls-min-version", "1.0"}, nil, `"1.0" is not one of 1.2, 1.3`},
		{"negative skew", "", []string{"--auto-tls-allowed-clock-skew", "-1"}, nil, "-1 is out of range"},
		{"bad kernel value", "metalagent-tls-dir= ipa-tls-min-version=maybe", nil, nil, "ipa-tls-min-version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--standalone", "--cmdline-file", cmdline(t, tt.kernel)}, tt.args...)
			c, err := Parse("t", args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := defaults
			tt.want(&want)
			if diff := cmp.Diff(want, tlsOf(c)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
