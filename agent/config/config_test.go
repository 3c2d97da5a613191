package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"
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

func TestPluginSettings(t *testing.T) {
	tests := []struct {
		name    string
		cmd     string
		args    []string
		want    [6]any // start, call, step, max crashes, window, require manifest
		wantErr bool
	}{
		{name: "defaults", want: [6]any{10 * time.Second, 30 * time.Second, time.Duration(0), 3, 5 * time.Minute, false}},
		{name: "kernel parameters",
			cmd:  "metalagent-plugin-start-timeout=5 metalagent-plugin-call-timeout=7.5 metalagent-plugin-step-timeout=3600 metalagent-plugin-max-crashes=5 metalagent-plugin-crash-window=60 metalagent-require-plugin-manifest=1",
			want: [6]any{5 * time.Second, 7500 * time.Millisecond, time.Hour, 5, time.Minute, true}},
		{name: "flags win",
			cmd:  "metalagent-plugin-step-timeout=3600 metalagent-require-plugin-manifest=1",
			args: []string{"--plugin-step-timeout", "2", "--require-plugin-manifest=false"},
			want: [6]any{10 * time.Second, 30 * time.Second, 2 * time.Second, 3, 5 * time.Minute, false}},
		{name: "zero call timeout", args: []string{"--plugin-call-timeout", "0"}, wantErr: true},
		{name: "negative step timeout", args: []string{"--plugin-step-timeout", "-1"}, wantErr: true},
		{name: "no crashes allowed", cmd: "metalagent-plugin-max-crashes=0", wantErr: true},
		{name: "bad boolean", cmd: "metalagent-require-plugin-manifest=maybe", wantErr: true},
		{name: "zero window", args: []string{"--plugin-crash-window", "0"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--standalone", "--cmdline-file", cmdline(t, tt.cmd)}, tt.args...)
			c, err := Parse("t", args)
			if tt.wantErr {
				if err == nil {
					t.Fatal("Parse succeeded, want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := [6]any{c.PluginStartTimeout, c.PluginCallTimeout, c.PluginStepTimeout, c.PluginMaxCrashes, c.PluginCrashWindow, c.RequirePluginManifest}
			if got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseCommandKeepsArguments(t *testing.T) {
	var kind string
	c, rest, err := ParseCommand("t", []string{"--standalone", "--cmdline-file", cmdline(t, ""), "erase_devices", "--kind", "deploy"},
		func(fs *pflag.FlagSet) { fs.StringVar(&kind, "kind", "clean", "") })
	if err != nil {
		t.Fatal(err)
	}
	if !c.Standalone || kind != "deploy" || len(rest) != 1 || rest[0] != "erase_devices" {
		t.Errorf("standalone %v, kind %q, rest %v", c.Standalone, kind, rest)
	}
	if _, err := Parse("t", []string{"--standalone", "--cmdline-file", cmdline(t, ""), "extra"}); err == nil {
		t.Error("Parse accepted a positional argument")
	}
}

func TestInspectionSettings(t *testing.T) {
	tests := []struct {
		name        string
		kernel      string
		args        []string
		collectors  string
		wait        time.Duration
		allIfaces   bool
		callbackURL string
	}{
		{name: "defaults", wait: 60 * time.Second},
		{name: "kernel", kernel: "ipa-inspection-callback-url=http://i:5050/v1/continue ipa-inspection-collectors=default,pci-devices ipa-inspection-dhcp-wait-timeout=0 ipa-inspection-dhcp-all-interfaces=1",
			collectors: "default,pci-devices", allIfaces: true, callbackURL: "http://i:5050/v1/continue"},
		{name: "flag wins", kernel: "ipa-inspection-dhcp-wait-timeout=5", args: []string{"--inspection-dhcp-wait-timeout", "2.5"}, wait: 2500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--api-url", "http://x", "--cmdline-file", cmdline(t, tt.kernel)}, tt.args...)
			c, err := Parse("t", args)
			if err != nil {
				t.Fatal(err)
			}
			if c.InspectionCollectors != tt.collectors || c.InspectionDHCPWaitTimeout != tt.wait ||
				c.InspectionDHCPAllInterfaces != tt.allIfaces || c.InspectionCallbackURL != tt.callbackURL {
				t.Errorf("got collectors %q wait %s all %v url %q, want %q %s %v %q", c.InspectionCollectors, c.InspectionDHCPWaitTimeout,
					c.InspectionDHCPAllInterfaces, c.InspectionCallbackURL, tt.collectors, tt.wait, tt.allIfaces, tt.callbackURL)
			}
		})
	}
}
