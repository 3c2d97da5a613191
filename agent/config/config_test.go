package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func cmdline(t *testing.T, s string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "cmdline")
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseCmdline(t *testing.T) {
	got := ParseCmdline("quiet ipa-api-url=http://a:6385 BOOTIF=01-aa-bb a=1=2 ipa-debug=1 ipa-debug=0 =x\n")
	want := map[string]string{"ipa-api-url": "http://a:6385", "BOOTIF": "01-aa-bb", "a": "1=2", "ipa-debug": "0"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestKernelParamsAreDefaultsFlagsWin(t *testing.T) {
	f := cmdline(t, "ipa-api-url=http://kernel:6385/ ipa-listen-port=1234 ipa-advertise-host=10.0.0.5 "+
		"ipa-insecure=1 ipa-lookup-timeout=20 metalagent-allowed-disks=/dev/loop1,/dev/loop2 BOOTIF=01-52-54-00-12-34-56")
	c, err := Parse("t", []string{"--cmdline-file", f, "--listen-port", "4321"})
	if err != nil {
		t.Fatal(err)
	}
	if c.APIURL != "http://kernel:6385" {
		t.Errorf("APIURL = %q (kernel default, trailing slash trimmed)", c.APIURL)
	}
	if c.ListenPort != 4321 {
		t.Errorf("ListenPort = %d, want the flag's 4321", c.ListenPort)
	}
	if c.AdvertiseHost != "10.0.0.5" || !c.Insecure || c.LookupTimeout != 20*time.Second {
		t.Errorf("kernel defaults not applied: %+v", c)
	}
	if diff := cmp.Diff([]string{"/dev/loop1", "/dev/loop2"}, c.AllowedDisks); diff != "" {
		t.Errorf("AllowedDisks (-want +got):\n%s", diff)
	}
	if c.BootIF != "01-52-54-00-12-34-56" {
		t.Errorf("BootIF = %q", c.BootIF)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		cmd  string
		args []string
	}{
		{"no api url", "", nil},
		{"bad scheme", "", []string{"--api-url", "ftp://x"}},
		{"bad kernel int", "ipa-listen-port=abc", []string{"--api-url", "http://x"}},
		{"unknown flag", "", []string{"--nope"}},
		{"missing cmdline file", "", []string{"--standalone", "--cmdline-file", "/nonexistent/cmdline"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if !contains(args, "--cmdline-file") {
				args = append(args, "--cmdline-file", cmdline(t, tt.cmd))
			}
			if _, err := Parse("t", args); err == nil {
				t.Error("Parse succeeded, want an error")
			}
		})
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
