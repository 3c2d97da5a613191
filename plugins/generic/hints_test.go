package generic

import (
	"encoding/json"
	"errors"
	"testing"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

func TestHints(t *testing.T) {
	sda := sdk.BlockDevice{
		Name: "/dev/sda", Model: sdk.Ptr("INTEL SSDSC2KB960G8"), Size: 960197124096, Rotational: false,
		Serial: sdk.Ptr("PHYF000000AB960CGN"), Vendor: sdk.Ptr("ATA"), WWN: sdk.Ptr("0x55cd2e415190abcd"),
		HCTL: sdk.Ptr("0:0:0:0"), ByPath: sdk.Ptr("/dev/disk/by-path/pci-0000:00:17.0-ata-1"),
	}
	tests := []struct {
		hints   string
		match   bool
		invalid bool
	}{
		{`{"name": "/dev/sda"}`, true, false},
		{`{"name": "sda"}`, true, false},
		{`{"name": "/dev/sdb"}`, false, false},
		{`{"serial": "phyf000000ab960cgn"}`, true, false},
		{`{"serial": "s== PHYF000000AB960CGN"}`, true, false},
		{`{"serial": "s!= PHYF000000AB960CGN"}`, false, false},
		{`{"model": "<in> SSDSC2"}`, true, false},
		{`{"model": "INTEL SSDSC2KB960G8"}`, true, false},
		{`{"model": "<or> foo <or> intel ssdsc2kb960g8"}`, true, false},
		{`{"wwn": "0x55cd2e415190abcd", "vendor": "ATA"}`, true, false},
		{`{"wwn": "0x55cd2e415190abcd", "vendor": "SEAGATE"}`, false, false},
		{`{"wwn_with_extension": "0x55cd2e415190abcd"}`, false, false},
		{`{"hctl": "0:0:0:0"}`, true, false},
		{`{"by_path": "/dev/disk/by-path/pci-0000:00:17.0-ata-1"}`, true, false},
		{`{"size": 894}`, false, false},
		{`{"size": ">= 800"}`, true, false},
		{`{"size": "< 800"}`, false, false},
		{`{"size": "<or> 100 <or> 894.25"}`, false, true},
		{`{"rotational": false}`, true, false},
		{`{"rotational": "true"}`, false, false},
		{`{"color": "red"}`, false, true},
		{`{"size": -1}`, false, true},
		{`{"size": "big"}`, false, true},
		{`{"rotational": "maybe"}`, false, true},
		{`{"serial": ""}`, false, true},
		{`{"serial": 12}`, false, true},
	}
	for _, tt := range tests {
		var raw map[string]any
		if err := json.Unmarshal([]byte(tt.hints), &raw); err != nil {
			t.Fatal(err)
		}
		hs, err := parseHints(raw)
		if tt.invalid {
			if !errors.Is(err, sdk.ErrInvalidArgument) {
				t.Errorf("%s: error %v, want an invalid argument", tt.hints, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.hints, err)
			continue
		}
		if got := matchHints(sda, hs); got != tt.match {
			t.Errorf("%s: match = %v, want %v", tt.hints, got, tt.match)
		}
	}
}

func TestPyQuote(t *testing.T) {
	tests := map[string]string{"intel ssd": "intel%20ssd", "/dev/sda": "/dev/sda", "0:0:0:0": "0%3A0%3A0%3A0", "a_b.c-d~": "a_b.c-d~"}
	for in, want := range tests {
		if got := pyQuote(in); got != want {
			t.Errorf("pyQuote(%q) = %q, want %q", in, got, want)
		}
	}
}
