package config

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseCmdline(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want map[string]string
	}{
		{name: "plain", in: "BOOT_IMAGE=/vmlinuz quiet ipa-api-url=http://10.0.0.1:6385 ipa-debug=1\n",
			want: map[string]string{"BOOT_IMAGE": "/vmlinuz", "ipa-api-url": "http://10.0.0.1:6385", "ipa-debug": "1"}},
		{name: "repeated key: the last wins", in: "ipa-debug=1 ipa-debug=0",
			want: map[string]string{"ipa-debug": "0"}},
		{name: "split at the first =", in: "a=1=2 ipa-global-request-id=req-x==",
			want: map[string]string{"a": "1=2", "ipa-global-request-id": "req-x=="}},
		{name: "tokens without = and empty keys are ignored", in: "nomodeset =x ro",
			want: map[string]string{}},
		{name: "api url list keeps its commas", in: "ipa-api-url=http://a:6385,http://b:6385",
			want: map[string]string{"ipa-api-url": "http://a:6385,http://b:6385"}},
		{name: "pxelinux BOOTIF", in: "BOOTIF=01-52-54-00-12-34-56",
			want: map[string]string{"BOOTIF": "01-52-54-00-12-34-56"}},
		{name: "iPXE BOOTIF", in: "BOOTIF=52:54:00:12:34:56",
			want: map[string]string{"BOOTIF": "52:54:00:12:34:56"}},
		{name: "quoted value with blanks", in: `ipa-inspection-collectors="default, logs" ipa-debug=1`,
			want: map[string]string{"ipa-inspection-collectors": "default, logs", "ipa-debug": "1"}},
		{name: "quoted whole token", in: `"ipa-ntp-server=10.0.0.1" x=1`,
			want: map[string]string{"ipa-ntp-server": "10.0.0.1", "x": "1"}},
		{name: "empty quoted value", in: `ipa-advertise-host=""`,
			want: map[string]string{"ipa-advertise-host": ""}},
		{name: "tabs and newlines separate", in: "a=1\tb=2\n\nc=3",
			want: map[string]string{"a": "1", "b": "2", "c": "3"}},
		{name: "empty", in: "", want: map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, ParseCmdline(tt.in)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestBootIFMAC(t *testing.T) {
	tests := []struct{ in, want string }{
		{"01-52-54-00-AB-cd-EF", "52:54:00:ab:cd:ef"},
		{"52:54:00:AB:CD:EF", "52:54:00:ab:cd:ef"},
		{"20-00-00-00-00-00-00-00-00-fe-80", "00:00:00:00:00:00:00:00:fe:80"}, // InfiniBand: type 20
		{" 01-52-54-00-12-34-56\n", "52:54:00:12:34:56"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := BootIFMAC(tt.in); got != tt.want {
			t.Errorf("BootIFMAC(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
