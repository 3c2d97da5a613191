package hints

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// sda is a SATA SSD of 894.25 GiB.
var sda = sdk.BlockDevice{
	Name: "/dev/sda", Model: sdk.Ptr("INTEL SSDSC2KB960G8"), Size: 960197124096, Rotational: false,
	Serial: sdk.Ptr("PHYF000000AB960CGN"), Vendor: sdk.Ptr("ATA"), WWN: sdk.Ptr("0x55cd2e415190abcd"),
	HCTL: sdk.Ptr("0:0:0:0"), ByPath: sdk.Ptr("/dev/disk/by-path/pci-0000:00:17.0-ata-1"),
}

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return m
}

func TestParseAndMatch(t *testing.T) {
	tests := []struct {
		hints   string
		match   bool
		invalid bool
	}{
		{`{}`, true, false},
		{`{"name": "/dev/sda"}`, true, false},
		{`{"name": "sda"}`, true, false},
		{`{"name": "/dev/sdb"}`, false, false},
		{`{"name": "s!= sdb"}`, true, false},
		{`{"serial": "phyf000000ab960cgn"}`, true, false},
		{`{"serial": "s== PHYF000000AB960CGN"}`, true, false},
		{`{"serial": "s!= PHYF000000AB960CGN"}`, false, false},
		{`{"serial": "s>= phyf"}`, true, false},
		{`{"serial": "s< phyf"}`, false, false},
		{`{"model": "<in> SSDSC2"}`, true, false},
		{`{"model": "<all-in> intel <all-in> ssdsc2"}`, true, false},
		{`{"model": "<all-in> intel <all-in> samsung"}`, false, false},
		{`{"model": "INTEL SSDSC2KB960G8"}`, true, false},
		{`{"model": "<or> foo <or> intel ssdsc2kb960g8"}`, true, false},
		{`{"model": "<or> foo <or> bar"}`, false, false},
		{`{"wwn": "0x55cd2e415190abcd", "vendor": "ATA"}`, true, false},
		{`{"wwn": "0x55cd2e415190abcd", "vendor": "SEAGATE"}`, false, false},
		{`{"wwn_with_extension": "0x55cd2e415190abcd"}`, false, false},
		{`{"hctl": "0:0:0:0"}`, true, false},
		{`{"by_path": "/dev/disk/by-path/pci-0000:00:17.0-ata-1"}`, true, false},
		{`{"size": 894}`, true, false},
		{`{"size": "894"}`, true, false},
		{`{"size": 895}`, false, false},
		{`{"size": "== 894"}`, true, false},
		{`{"size": "!= 894"}`, false, false},
		{`{"size": ">= 800"}`, true, false},
		{`{"size": "> 894"}`, false, false},
		{`{"size": "<= 894"}`, true, false},
		{`{"size": "< 800"}`, false, false},
		{`{"size": "<or> 100 <or> 894"}`, true, false},
		{`{"size": "<or> 100 <or> 894.25"}`, false, true},
		{`{"rotational": false}`, true, false},
		{`{"rotational": "true"}`, false, false},
		{`{"rotational": "no"}`, true, false},
		{`{"rotational": 0}`, true, false},
		{`{"rotational": false, "size": ">= 100", "name": "sda"}`, true, false},
		{`{"color": "red"}`, false, true},
		{`{"size": -1}`, false, true},
		{`{"size": 0}`, false, true},
		{`{"size": "big"}`, false, true},
		{`{"size": true}`, false, true},
		{`{"rotational": "maybe"}`, false, true},
		{`{"rotational": [true]}`, false, true},
		{`{"serial": ""}`, false, true},
		{`{"serial": "s=="}`, false, true},
		{`{"serial": 12}`, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.hints, func(t *testing.T) {
			h, err := Parse(decode(t, tt.hints))
			if tt.invalid {
				if !errors.Is(err, sdk.ErrInvalidArgument) {
					t.Errorf("error %v, want an invalid argument", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := h.Match(sda); got != tt.match {
				t.Errorf("match = %v, want %v", got, tt.match)
			}
		})
	}
}

func TestParseGoValues(t *testing.T) {
	h, err := Parse(map[string]any{"size": 894, "rotational": false})
	if err != nil || !h.Match(sda) {
		t.Errorf("Go int and bool: %v, match %v", err, h.Match(sda))
	}
	if !(Hints{}).Match(sda) || !(Hints{}).Empty() {
		t.Error("the zero Hints must be empty and match everything")
	}
	if got, want := h.String(), `{"rotational":false,"size":894}`; got != want {
		t.Errorf("String = %s, want %s", got, want)
	}
}

func TestFromNode(t *testing.T) {
	tests := []struct {
		name    string
		node    string
		want    string // JSON of the hints; "" for none
		invalid bool
	}{
		{"empty", ``, "", false},
		{"null", `null`, "", false},
		{"no hints", `{"uuid": "x", "properties": {}}`, "", false},
		{"instance_info preferred", `{"instance_info": {"root_device": {"name": "/dev/sdb"}}, "properties": {"root_device": {"name": "/dev/sda"}}}`, `{"name":"/dev/sdb"}`, false},
		{"properties", `{"instance_info": {}, "properties": {"root_device": {"size": ">= 6"}}}`, `{"size":">= 6"}`, false},
		{"empty instance_info hints fall through", `{"instance_info": {"root_device": {}}, "properties": {"root_device": {"serial": "A"}}}`, `{"serial":"A"}`, false},
		{"null instance_info hints fall through", `{"instance_info": {"root_device": null}, "properties": {"root_device": {"serial": "A"}}}`, `{"serial":"A"}`, false},
		{"hints not an object", `{"instance_info": {"root_device": "/dev/sda"}}`, "", true},
		{"not a node", `[1]`, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FromNode([]byte(tt.node))
			if tt.invalid {
				if !errors.Is(err, sdk.ErrInvalidArgument) {
					t.Errorf("error %v, want an invalid argument", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == "" {
				if got != nil {
					t.Errorf("hints %v, want none", got)
				}
				return
			}
			if s := jsonText(got); s != tt.want {
				t.Errorf("hints %s, want %s", s, tt.want)
			}
		})
	}
}

func TestChoose(t *testing.T) {
	disks := []sdk.BlockDevice{
		{Name: "/dev/sdb", Size: 8 << 30, Serial: sdk.Ptr("B"), Rotational: true},
		{Name: "/dev/sda", Size: 5 << 30, Serial: sdk.Ptr("A")},
		{Name: "/dev/sdc", Size: 1 << 30, Serial: sdk.Ptr("C")},
		{Name: "/dev/sdd", Size: 5 << 30, Serial: sdk.Ptr("D")},
	}
	tests := []struct {
		name  string
		disks []sdk.BlockDevice
		hints string
		want  string // "" for DeviceNotFound
		msg   string // part of the error
	}{
		{"smallest of at least 4 GiB, ties by name", disks, `{}`, "/dev/sda", ""},
		{"first match in order", disks, `{"size": ">= 5"}`, "/dev/sdb", ""},
		{"operator", disks, `{"size": "< 6", "rotational": false}`, "/dev/sda", ""},
		{"name without /dev", disks, `{"name": "sdc"}`, "/dev/sdc", ""},
		{"hints ignore the 4 GiB rule", disks, `{"serial": "c"}`, "/dev/sdc", ""},
		{"no match", disks, `{"serial": "Z"}`, "", `using these hints {"serial":"Z"}`},
		{"all too small", disks[2:3], `{}`, "", "smaller than 4294967296B (4 GiB)"},
		{"no disks", nil, `{}`, "", "no block devices"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := Parse(decode(t, tt.hints))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Choose(tt.disks, h)
			if tt.want == "" {
				if sdk.TypeOf(err) != "DeviceNotFound" || sdk.KindOf(err) != sdk.KindHardware || !strings.Contains(err.Error(), tt.msg) {
					t.Errorf("got %s, %v; want DeviceNotFound naming %q", got.Name, err, tt.msg)
				}
				return
			}
			if err != nil || got.Name != tt.want {
				t.Errorf("got %q, %v; want %s", got.Name, err, tt.want)
			}
		})
	}
}

func TestChooseForNode(t *testing.T) {
	disks := []sdk.BlockDevice{
		{Name: "/dev/vda", Size: 10 << 30, Serial: sdk.Ptr("root")},
		{Name: "/dev/vdb", Size: 5 << 30},
	}
	tests := []struct {
		name string
		node string
		want string // "" for DeviceNotFound
		msg  string
	}{
		{"no node", ``, "/dev/vdb", ""},
		{"hints", `{"properties": {"root_device": {"serial": "ROOT"}}}`, "/dev/vda", ""},
		{"invalid hints", `{"instance_info": {"root_device": {"size": "big"}}}`, "", `hints {"size":"big"} because they failed to validate`},
		{"hints not an object", `{"instance_info": {"root_device": 5}}`, "", "cannot be read"},
		{"no match", `{"instance_info": {"root_device": {"size": ">= 11"}}}`, "", `using these hints {"size":">= 11"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ChooseForNode([]byte(tt.node), disks)
			if tt.want == "" {
				if sdk.TypeOf(err) != "DeviceNotFound" || !strings.Contains(err.Error(), tt.msg) {
					t.Errorf("got %s, %v (%s); want DeviceNotFound naming %q", got.Name, err, sdk.TypeOf(err), tt.msg)
				}
				return
			}
			if err != nil || got.Name != tt.want {
				t.Errorf("got %q, %v; want %s", got.Name, err, tt.want)
			}
		})
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

func TestSkipList(t *testing.T) {
	tests := []struct {
		name    string
		entries []map[string]any
		dev     sdk.BlockDevice
		want    bool
		wantErr bool
	}{
		{"no entries", nil, sdk.BlockDevice{Name: "/dev/sda"}, false, false},
		{"name matches", []map[string]any{{"name": "sda"}}, sdk.BlockDevice{Name: "/dev/sda"}, true, false},
		{"one of several", []map[string]any{{"name": "sdb"}, {"serial": "S1"}}, sdk.BlockDevice{Name: "/dev/sda", Serial: sdk.Ptr("S1")}, true, false},
		{"raid volumes ignored", []map[string]any{{"volume_name": "root"}}, sdk.BlockDevice{Name: "/dev/sda"}, false, false},
		{"bad hint", []map[string]any{{"size": "big"}}, sdk.BlockDevice{}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list, err := SkipList(tt.entries)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && AnyMatch(list, tt.dev) != tt.want {
				t.Errorf("AnyMatch = %v, want %v", !tt.want, tt.want)
			}
		})
	}
}
