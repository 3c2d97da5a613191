package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"
)

// cmdline writes s to a kernel command line file.
func cmdline(t *testing.T, s string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "cmdline")
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// writeFile writes a config file under dir.
func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// isolated returns args that read kernel parameters from a file holding
// kernel and no config file of the machine, unless args name their own.
func isolated(t *testing.T, kernel string, args ...string) []string {
	t.Helper()
	out := append([]string{}, args...)
	for _, f := range []string{"--cmdline-file", "--config-file", "--config-dir", "--metalagent-config"} {
		if contains(out, f) {
			continue
		}
		if f == "--cmdline-file" {
			out = append(out, f, cmdline(t, kernel))
		} else {
			out = append(out, f+"=")
		}
	}
	return out
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v || strings.HasPrefix(x, v+"=") {
			return true
		}
	}
	return false
}

func TestKernelParamsAreDefaultsFlagsWin(t *testing.T) {
	c, err := Parse("t", isolated(t, "ipa-api-url=http://kernel:6385/ ipa-listen-port=1234 ipa-advertise-host=10.0.0.5 "+
		"ipa-insecure=1 ipa-lookup-timeout=20 metalagent-allowed-disks=/dev/loop1,/dev/loop2 BOOTIF=01-52-54-00-12-34-56",
		"--listen-port", "4321"))
	if err != nil {
		t.Fatal(err)
	}
	if c.APIURL != "http://kernel:6385" {
		t.Errorf("APIURL = %q (kernel default, trailing slash trimmed)", c.APIURL)
	}
	if c.ListenPort != 4321 || c.Sources["listen_port"] != "flag --listen-port" {
		t.Errorf("ListenPort = %d from %q, want the flag's 4321", c.ListenPort, c.Sources["listen_port"])
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

// TestPrecedence reads testdata/precedence: the kernel command line, IPA's
// file, two files of IPA's directory, metalagent's file, then flags. Each
// option is set by the layers up to the one that must win.
func TestPrecedence(t *testing.T) {
	dir := filepath.Join("testdata", "precedence")
	c, err := Parse("t", []string{
		"--cmdline-file", filepath.Join(dir, "cmdline"),
		"--config-file", filepath.Join(dir, "ipa.conf"),
		"--config-dir", filepath.Join(dir, "ipa.d"),
		"--metalagent-config", filepath.Join(dir, "metalagent.conf"),
		"--lookup-timeout", "66",
		"--standalone",
	})
	if err != nil {
		t.Fatal(err)
	}
	ipaConf := filepath.Join(dir, "ipa.conf")
	first := filepath.Join(dir, "ipa.d", "10-first.conf")
	second := filepath.Join(dir, "ipa.d", "20-second.conf")
	tests := []struct {
		option     string
		got, want  any
		wantSource string
	}{
		{"lookup_timeout", c.LookupTimeout, 66 * time.Second, "flag --lookup-timeout"},
		{"lookup_interval", c.LookupInterval, 5 * time.Second, filepath.Join(dir, "metalagent.conf") + ":4"},
		{"allowed_disks", c.AllowedDisks, []string{"/dev/loop7"}, filepath.Join(dir, "metalagent.conf") + ":5"},
		{"listen_port", c.ListenPort, 1004, second + ":4"},
		{"advertise_port", c.AdvertisePort, 2003, first + ":5"},
		{"ip_lookup_attempts", c.IPLookupAttempts, 2, ipaConf + ":7"},
		{"disk_wait_attempts", c.DiskWaitAttempts, 7, "kernel parameter ipa-disk-wait-attempts"},
		{"collect_lldp", c.CollectLLDP, true, second + ":5"},
		{"use_mdns", c.UseMDNS, true, second + ":8"},
		{"tls_cert_file", c.TLSCertFile, "/etc/ipa/cert.pem", ipaConf + ":12"},
		// ipa-debug beats IPA's files, as in IPA's entry point.
		{"debug", c.Debug, true, "kernel parameter ipa-debug"},
		{"bootif", c.BootIF, "01-52-54-00-12-34-56", "kernel parameter BOOTIF"},
		{"listen_host", c.ListenHost, wildcardAddress(ipv6DisabledFile), ""},
	}
	for _, tt := range tests {
		t.Run(tt.option, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.got); diff != "" {
				t.Errorf("value (-want +got):\n%s", diff)
			}
			if got := c.Sources[tt.option]; got != tt.wantSource {
				t.Errorf("source %q, want %q", got, tt.wantSource)
			}
		})
	}
	if !hasWarning(c, "debug", "ignored: the kernel parameter ipa-debug wins") {
		t.Errorf("no warning that debug = false in %s was ignored: %+v", ipaConf, c.Warnings)
	}
}

// TestDebugPrecedence: ipa-debug beats IPA's files but not metalagent's
// file or the flag.
func TestDebugPrecedence(t *testing.T) {
	tests := []struct {
		name       string
		kernel     string
		ipaConf    string
		metalagent string
		args       []string
		want       bool
	}{
		{name: "kernel alone", kernel: "ipa-debug=1", want: true},
		{name: "IPA file alone", ipaConf: "debug = true", want: true},
		{name: "kernel beats IPA file", kernel: "ipa-debug=0", ipaConf: "debug = true", want: false},
		{name: "metalagent file beats kernel", kernel: "ipa-debug=1", metalagent: "debug = false", want: false},
		{name: "flag beats all", kernel: "ipa-debug=0", ipaConf: "debug = false", metalagent: "debug = false", args: []string{"--debug"}, want: true},
		{name: "IPA's lenient ipa-debug: not a boolean is false", kernel: "ipa-debug=2", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			args := append([]string{"--standalone"}, tt.args...)
			if tt.ipaConf != "" {
				args = append(args, "--config-file", writeFile(t, dir, "ipa.conf", "[DEFAULT]\n"+tt.ipaConf+"\n"))
			}
			if tt.metalagent != "" {
				args = append(args, "--metalagent-config", writeFile(t, dir, "metalagent.conf", "[DEFAULT]\n"+tt.metalagent+"\n"))
			}
			c, err := Parse("t", isolated(t, tt.kernel, args...))
			if err != nil {
				t.Fatal(err)
			}
			if c.Debug != tt.want {
				t.Errorf("Debug = %v from %q, want %v", c.Debug, c.Sources["debug"], tt.want)
			}
		})
	}
}

func TestBadValues(t *testing.T) {
	tests := []struct {
		name    string
		kernel  string
		file    string // [DEFAULT] lines of an IPA config file
		args    []string
		wantErr []string // substrings of the error
	}{
		{name: "kernel: port not an integer", kernel: "ipa-listen-port=abc", wantErr: []string{"kernel parameter ipa-listen-port", `"abc" is not an integer`}},
		{name: "kernel: port out of range", kernel: "ipa-advertise-port=70000", wantErr: []string{"kernel parameter ipa-advertise-port", "between 0 and 65535"}},
		{name: "kernel: bad boolean", kernel: "ipa-insecure=maybe", wantErr: []string{"kernel parameter ipa-insecure", `"maybe" is not a boolean`}},
		{name: "kernel: seconds with a fraction (IPA's IntOpt)", kernel: "ipa-lookup-timeout=1.5", wantErr: []string{"kernel parameter ipa-lookup-timeout", `"1.5" is not an integer`}},
		{name: "kernel: below minimum", kernel: "ipa-ip-lookup-attempts=0", wantErr: []string{"ipa-ip-lookup-attempts", "at least 1"}},
		{name: "kernel: bad choice", kernel: "ipa-advertise-protocol=HTTPS", wantErr: []string{"ipa-advertise-protocol", "not one of http, https"}},
		{name: "kernel: bad api url", kernel: "ipa-api-url=ironic:6385", wantErr: []string{"ipa-api-url", "must start with http://"}},
		{name: "kernel: bad url in a list", kernel: "ipa-api-url=http://a:6385,ftp://b", wantErr: []string{"ipa-api-url", `"ftp://b"`}},
		{name: "kernel: bad float", kernel: "ipa-lldp-timeout=soon", wantErr: []string{"ipa-lldp-timeout", "not a number of seconds"}},
		{name: "kernel: metalagent parameter", kernel: "metalagent-require-plugin-manifest=maybe", wantErr: []string{"metalagent-require-plugin-manifest"}},
		{name: "file: port not an integer", file: "listen_port = abc", wantErr: []string{"ipa.conf:2: listen_port", `"abc" is not an integer`}},
		{name: "file: inline comment is part of the value, as in oslo", file: "insecure = true # not here", wantErr: []string{"ipa.conf:2: insecure", "is not a boolean"}},
		{name: "file: priority above 99", file: "inject_files_priority = 100", wantErr: []string{"ipa.conf:2: inject_files_priority", "between 0 and 99"}},
		{name: "file: bad api version", file: "ironic_api_version = latest", wantErr: []string{"ipa.conf:2: ironic_api_version"}},
		{name: "flag: port not an integer", args: []string{"--listen-port", "abc"}, wantErr: []string{"--listen-port", `"abc" is not an integer`}},
		{name: "flag: bad duration", args: []string{"--disk-wait-delay", "3s"}, wantErr: []string{"--disk-wait-delay", `"3s" is not an integer`}},
		{name: "flag: bad boolean", args: []string{"--insecure=nope"}, wantErr: []string{"--insecure"}},
		{name: "no api url", args: []string{}, wantErr: []string{"no Ironic API URL"}},
		{name: "mdns is not implemented", kernel: "ipa-api-url=mdns", args: []string{}, wantErr: []string{"mdns", "kernel parameter ipa-api-url", "not implemented"}},
		{name: "unknown flag", args: []string{"--nope"}, wantErr: []string{"nope"}},
		{name: "plugin: zero call timeout", args: []string{"--standalone", "--plugin-call-timeout", "0"}, wantErr: []string{"plugin call timeout"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if tt.args == nil {
				args = []string{"--api-url", "http://ironic:6385"}
			}
			if tt.file != "" {
				args = append(args, "--config-file", writeFile(t, t.TempDir(), "ipa.conf", "[DEFAULT]\n"+tt.file+"\n"))
			}
			_, err := Parse("t", isolated(t, tt.kernel, args...))
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestConfigFiles(t *testing.T) {
	tests := []struct {
		name     string
		files    map[string]string // name: text, read in name order
		check    func(t *testing.T, c *Config)
		wantErr  string
		warnings map[string]string // option: substring of its warning
	}{
		{name: "colon, quotes and blanks", files: map[string]string{"a.conf": "[DEFAULT]\nadvertise_host:  '10.0.0.9'  \nglobal_request_id = \"req-1\"\n"},
			check: func(t *testing.T, c *Config) {
				if c.AdvertiseHost != "10.0.0.9" || c.GlobalRequestID != "req-1" {
					t.Errorf("advertise host %q, request id %q", c.AdvertiseHost, c.GlobalRequestID)
				}
			}},
		{name: "repeated key: the last wins", files: map[string]string{"a.conf": "[DEFAULT]\nlisten_port = 1\nlisten_port = 2\n"},
			check: func(t *testing.T, c *Config) {
				if c.ListenPort != 2 || !strings.HasSuffix(c.Sources["listen_port"], "a.conf:3") {
					t.Errorf("listen port %d from %s", c.ListenPort, c.Sources["listen_port"])
				}
			}},
		{name: "later file wins", files: map[string]string{"a.conf": "[DEFAULT]\nlisten_port = 1\n", "b.conf": "[DEFAULT]\nlisten_port = 2\n"},
			check: func(t *testing.T, c *Config) {
				if c.ListenPort != 2 {
					t.Errorf("listen port %d", c.ListenPort)
				}
			}},
		{name: "[default] is not [DEFAULT], as in oslo", files: map[string]string{"a.conf": "[default]\nlisten_port = 1\n"},
			check: func(t *testing.T, c *Config) {
				if c.ListenPort != 9999 {
					t.Errorf("listen port %d", c.ListenPort)
				}
			},
			warnings: map[string]string{"[default] listen_port": "not an option"}},
		{name: "unknown, unused and parsed-only keys warn", files: map[string]string{"a.conf": "[DEFAULT]\nlookup_timout = 5\nlog_file = /var/log/ipa.log\nntp_server = pool.ntp.org\n[disk_utils]\ndd_block_size = 4M\n"},
			check: func(t *testing.T, c *Config) {
				if c.NTPServer != "pool.ntp.org" {
					t.Errorf("ntp server %q", c.NTPServer)
				}
			},
			warnings: map[string]string{
				"lookup_timout":              "not an option this agent knows",
				"log_file":                   "metalagent logs to stderr",
				"ntp_server":                 "no effect in this agent version: clock synchronisation",
				"[disk_utils] dd_block_size": "partition images",
			}},
		{name: "multi-line value", files: map[string]string{"a.conf": "[DEFAULT]\npermitted_image_formats = raw,\n  qcow2\n"},
			check: func(t *testing.T, c *Config) {
				if diff := cmp.Diff([]string{"raw", "qcow2"}, c.PermittedImageFormats); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			}},
		{name: "key before any section", files: map[string]string{"a.conf": "listen_port = 1\n"}, wantErr: "a.conf:1: \"listen_port\" comes before any [section]"},
		{name: "no delimiter", files: map[string]string{"a.conf": "[DEFAULT]\ninsecure\n"}, wantErr: "a.conf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, text := range tt.files {
				writeFile(t, dir, name, text)
			}
			c, err := Parse("t", isolated(t, "", "--standalone", "--config-dir", dir))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
			for opt, w := range tt.warnings {
				if !hasWarning(c, opt, w) {
					t.Errorf("no warning %q for %s in %+v", w, opt, c.Warnings)
				}
			}
		})
	}
}

func hasWarning(c *Config, option, substr string) bool {
	for _, w := range c.Warnings {
		if w.Option == option && strings.Contains(w.Problem, substr) {
			return true
		}
	}
	return false
}

func TestConfigFileLocations(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.conf")
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{name: "explicit missing IPA file", args: []string{"--config-file", missing}, wantErr: "missing.conf"},
		{name: "explicit missing IPA dir", args: []string{"--config-dir", filepath.Join(dir, "nodir")}, wantErr: "nodir"},
		{name: "explicit missing metalagent file", args: []string{"--metalagent-config", missing}, wantErr: "missing.conf"},
		{name: "oslo spelling of the flags", args: []string{"--config_file", writeFile(t, dir, "x.conf", "[DEFAULT]\n"), "--config_dir", dir}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t", isolated(t, "", append([]string{"--standalone"}, tt.args...)...))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one naming %q", err, tt.wantErr)
			}
		})
	}
	// Missing default locations are skipped.
	defer func(f, d []string, m string) {
		defaultConfigFiles, defaultConfigDirs, defaultMetalagentConfig = f, d, m
	}(defaultConfigFiles, defaultConfigDirs, defaultMetalagentConfig)
	defaultConfigFiles, defaultConfigDirs, defaultMetalagentConfig = []string{missing}, []string{filepath.Join(dir, "nodir")}, missing
	if _, err := Parse("t", []string{"--standalone", "--cmdline-file", cmdline(t, "")}); err != nil {
		t.Errorf("missing default files: %v", err)
	}
}

func TestOsloFlagSpelling(t *testing.T) {
	c, err := Parse("t", isolated(t, "", "--api_url", "http://ironic:6385", "--lookup_timeout=7"))
	if err != nil {
		t.Fatal(err)
	}
	if c.APIURL != "http://ironic:6385" || c.LookupTimeout != 7*time.Second {
		t.Errorf("api url %q, lookup timeout %s", c.APIURL, c.LookupTimeout)
	}
}

func TestAPIURLList(t *testing.T) {
	c, err := Parse("t", isolated(t, "ipa-api-url=http://a:6385/,https://b:6385"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"http://a:6385/", "https://b:6385"}, c.APIURLs); diff != "" {
		t.Errorf("APIURLs (-want +got):\n%s", diff)
	}
	if c.APIURL != "http://a:6385" {
		t.Errorf("APIURL = %q, want the first, without its slash", c.APIURL)
	}
	if !hasWarning(c, "api_url", "uses only the first") {
		t.Errorf("no warning about the second URL: %+v", c.Warnings)
	}
}

func TestUnknownKernelParameters(t *testing.T) {
	c, err := Parse("t", isolated(t, "ipa-lookup-timout=5 quiet console=ttyS0 metalagent-plugn-dir=/x", "--standalone"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"ipa-lookup-timout", "metalagent-plugn-dir"} {
		if !hasWarning(c, k, "not a parameter this agent knows") {
			t.Errorf("no warning for %s: %+v", k, c.Warnings)
		}
	}
	if hasWarning(c, "console", "") {
		t.Error("warned about console=, which is not the agent's")
	}
}

func TestParsedOnlyOptionsWarn(t *testing.T) {
	c, err := Parse("t", isolated(t, "ipa-inspection-benchmarks=cpu ipa-ntp-server=10.0.0.1", "--standalone", "--tls-cipher-suites", "ECDHE-ECDSA-AES128-GCM-SHA256"))
	if err != nil {
		t.Fatal(err)
	}
	for opt, reason := range map[string]string{"inspection_benchmarks": noInspection, "ntp_server": noNTP, "tls_cipher_suites": noCipherChoice} {
		if !hasWarning(c, opt, reason) {
			t.Errorf("no warning %q for %s: %+v", reason, opt, c.Warnings)
		}
	}
	if len(c.Warnings) != 3 {
		t.Errorf("%d warnings, want 3: %+v", len(c.Warnings), c.Warnings)
	}
}

func TestPluginParams(t *testing.T) {
	dir := t.TempDir()
	conf := writeFile(t, dir, "ipa.conf", "[DEFAULT]\ncollect_lldp = yes\nlldp_timeout = 2.5\n")
	c, err := Parse("t", isolated(t, "ipa-collect-lldp=0 ipa-disk-wait-delay=1 custom-erase-passes=3",
		"--standalone", "--config-file", conf, "--disk-wait-attempts", "4"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"ipa-collect-lldp":       "true", // the file's value under its kernel name
		"ipa-lldp-timeout":       "2.5",
		"ipa-disk-wait-delay":    "1", // kernel, as read
		"ipa-disk-wait-attempts": "4", // the flag's
		"custom-erase-passes":    "3", // a plugin's own parameter
	}
	if diff := cmp.Diff(want, c.PluginParams()); diff != "" {
		t.Errorf("PluginParams (-want +got):\n%s", diff)
	}
	if c.KernelParams["ipa-collect-lldp"] != "0" {
		t.Errorf("KernelParams changed: %v", c.KernelParams)
	}
}

func TestSettingsMaskSecrets(t *testing.T) {
	c, err := Parse("t", isolated(t, "ipa-agent-token=s3cr3t-token-of-the-operator", "--standalone", "--image-server-password", "pw"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range c.Settings() {
		got[s.Option] = s.Value + " from " + s.Source
	}
	want := map[string]string{
		"agent_token":           "*** from kernel parameter ipa-agent-token",
		"image_server_password": "*** from flag --image-server-password",
		"standalone":            "true from flag --standalone",
		"cmdline_file":          got["cmdline_file"],
		"config_file":           " from flag --config-file",
		"config_dir":            " from flag --config-dir",
		"metalagent_config":     " from flag --metalagent-config",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Settings (-want +got):\n%s", diff)
	}
	if c.AgentToken != "s3cr3t-token-of-the-operator" {
		t.Errorf("AgentToken = %q", c.AgentToken)
	}
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
			c, err := Parse("t", isolated(t, tt.cmd, append([]string{"--standalone"}, tt.args...)...))
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
	c, rest, err := ParseCommand("t", isolated(t, "", "--standalone", "erase_devices", "--kind", "deploy"),
		func(fs *pflag.FlagSet) { fs.StringVar(&kind, "kind", "clean", "") })
	if err != nil {
		t.Fatal(err)
	}
	if !c.Standalone || kind != "deploy" || len(rest) != 1 || rest[0] != "erase_devices" {
		t.Errorf("standalone %v, kind %q, rest %v", c.Standalone, kind, rest)
	}
	if _, err := Parse("t", isolated(t, "", "--standalone", "extra")); err == nil {
		t.Error("Parse accepted a positional argument")
	}
}

func TestMissingCmdlineFile(t *testing.T) {
	_, err := Parse("t", isolated(t, "", "--standalone", "--cmdline-file", "/nonexistent/cmdline"))
	if err == nil || !strings.Contains(err.Error(), "read kernel parameters") {
		t.Fatalf("error %v, want one about reading kernel parameters", err)
	}
}
