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
	defaults := tlsSettings{Auto: true, Skew: time.Hour, Curve: "p256", Min: "1.2", Dir: "/run/metalagent", AdvertiseProtocol: "http"}
	tests := []struct {
		name    string
		kernel  string
		args    []string
		want    func(s *tlsSettings)
		wantErr string
	}{
		{"IPA's defaults: auto-TLS on", "", nil, func(*tlsSettings) {}, ""},
		{"static TLS by flags; callback follows the listener", "",
			[]string{"--listen-tls", "--cert-file", "/etc/a.crt", "--key-file", "/etc/a.key"},
			func(s *tlsSettings) {
				s.ListenTLS, s.Cert, s.Key, s.AdvertiseProtocol = true, "/etc/a.crt", "/etc/a.key", "https"
			}, ""},
		{"static TLS by IPA's newer option names", "",
			[]string{"--listen-tls", "--tls-cert-file", "/etc/a.crt", "--tls-key-file", "/etc/a.key"},
			func(s *tlsSettings) {
				s.ListenTLS, s.Cert, s.Key, s.AdvertiseProtocol = true, "/etc/a.crt", "/etc/a.key", "https"
			}, ""},
		{"static TLS by kernel parameters", "metalagent-listen-tls=1 metalagent-tls-cert-file=/k.crt metalagent-tls-key-file=/k.key",
			nil, func(s *tlsSettings) {
				s.ListenTLS, s.Cert, s.Key, s.AdvertiseProtocol = true, "/k.crt", "/k.key", "https"
			}, ""},
		{"an explicit advertise protocol is kept", "ipa-advertise-protocol=http",
			[]string{"--listen-tls", "--cert-file", "/a", "--key-file", "/b"},
			func(s *tlsSettings) { s.ListenTLS, s.Cert, s.Key = true, "/a", "/b" }, ""},
		{"auto-TLS knobs by kernel parameters",
			"metalagent-enable-auto-tls=false metalagent-auto-tls-allowed-clock-skew=60 ipa-tls-certificate-curve=p384 ipa-tls-min-version=1.3 metalagent-tls-dir=/run/x",
			nil, func(s *tlsSettings) {
				s.Auto, s.Skew, s.Curve, s.Min, s.Dir = false, time.Minute, "p384", "1.3", "/run/x"
			}, ""},
		{"flags win over kernel parameters", "metalagent-enable-auto-tls=false ipa-tls-min-version=1.3",
			[]string{"--enable-auto-tls=true", "--tls-min-version", "1.2"}, func(*tlsSettings) {}, ""},
		{"listen-tls without files", "", []string{"--listen-tls"}, nil, "needs --cert-file and --key-file"},
		{"listen-tls without key", "", []string{"--listen-tls", "--cert-file", "/a"}, nil, "needs --cert-file and --key-file"},
		{"bad curve", "ipa-tls-certificate-curve=p192", nil, nil, `curve "p192"`},
		{"bad minimum version", "", []string{"--tls-min-version", "1.0"}, nil, `minimum version "1.0"`},
		{"negative skew", "", []string{"--auto-tls-allowed-clock-skew", "-1"}, nil, "must not be negative"},
		{"bad kernel boolean", "metalagent-enable-auto-tls=maybe", nil, nil, "metalagent-enable-auto-tls"},
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
