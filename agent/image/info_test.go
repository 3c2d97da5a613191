package image

import (
	"encoding/json"
	"strings"
	"testing"
)

// conductorInfo is image_info as Ironic 21.4 sends it for a whole-disk
// image, plus a field this agent does not know.
const conductorInfo = `{
	"id": "7b1c6e4c-0000-4000-8000-000000000001",
	"urls": ["http://10.0.0.1:8080/images/image.raw"],
	"disk_format": "raw",
	"container_format": null,
	"stream_raw_images": true,
	"checksum": "0123456789abcdef0123456789abcdef",
	"os_hash_algo": "sha512",
	"os_hash_value": "abcd",
	"node_uuid": "1be26c0b-03f2-4d2e-ae87-c02d7f33c123",
	"proxies": {"http": "http://proxy:3128"},
	"no_proxy": ".example.com",
	"configdrive": null,
	"root_mb": "10240",
	"swap_mb": 0,
	"future_field": {"a": [1, 2]}
}`

func TestInfoJSON(t *testing.T) {
	var info Info
	if err := json.Unmarshal([]byte(conductorInfo), &info); err != nil {
		t.Fatal(err)
	}
	if info.ID == "" || len(info.URLs) != 1 || !info.StreamRawImages || info.OSHashAlgo != "sha512" ||
		info.Proxies["http"] != "http://proxy:3128" || info.RootMB != "10240" || info.SwapMB != "0" {
		t.Errorf("decoded %+v", info)
	}
	if !info.IsWholeDisk() {
		t.Error("IsWholeDisk = false without image_type")
	}
	if err := info.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	if string(info.Extra["future_field"]) != `{"a": [1, 2]}` || len(info.Extra) != 1 {
		t.Errorf("Extra = %v", info.Extra)
	}
	b, err := json.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back["future_field"] == nil || back["id"] != info.ID || back["root_mb"] != 10240.0 {
		t.Errorf("re-encoded %s", b)
	}
}

func TestInfoJSONWrongType(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"id": "x", "urls": "http://a/b"}`, "'urls' must be a list"},
		{`{"id": "x", "urls": [1]}`, "'urls' must be a list"},
		{`{"id": 5, "urls": ["http://a/b"]}`, "'id' must be a string"},
		{`{"id": "x", "urls": ["http://a/b"], "root_mb": "ten"}`, "invalid number"},
		{`[]`, "Invalid image_info"},
	}
	for _, tt := range tests {
		var info Info
		err := json.Unmarshal([]byte(tt.in), &info)
		e := asIPA(t, err, "InvalidCommandParamsError")
		if !strings.Contains(e.Details, tt.want) {
			t.Errorf("%s: details %q, want %q", tt.in, e.Details, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	ok := Info{ID: "x", URLs: []string{"http://a/b"}, Checksum: "abc"}
	tests := []struct {
		name   string
		mutate func(*Info)
		want   string // "" for valid
	}{
		{"legacy checksum", func(*Info) {}, ""},
		{"os_hash pair", func(i *Info) { i.Checksum, i.OSHashAlgo, i.OSHashValue = "", "sha256", "ab" }, ""},
		{"no id", func(i *Info) { i.ID = "" }, "Image is missing 'id' field."},
		{"no urls", func(i *Info) { i.URLs = nil }, "Image is missing 'urls' field."},
		{"empty urls", func(i *Info) { i.URLs = []string{} }, "Image 'urls' must be a list with at least one element."},
		{"blank url", func(i *Info) { i.URLs = []string{" "} }, "Image 'urls' element 0 is empty."},
		{"no checksum", func(i *Info) { i.Checksum = "" }, "Image checksum is not available"},
		{"algo without value", func(i *Info) { i.OSHashAlgo = "sha256" }, "Image 'os_hash_value' must be a non-empty string."},
		{"value without algo", func(i *Info) { i.OSHashValue = "ab" }, "Image 'os_hash_algo' must be a non-empty string."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info := ok
			tt.mutate(&info)
			err := info.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			e := asIPA(t, err, "InvalidCommandParamsError")
			if e.Code != 400 || !strings.HasPrefix(e.Details, tt.want) {
				t.Errorf("error = %d %q, want 400 %q", e.Code, e.Details, tt.want)
			}
		})
	}
}

func TestIsWholeDisk(t *testing.T) {
	for typ, want := range map[string]bool{"": true, "whole-disk": true, "partition": false} {
		if got := (Info{ImageType: typ}).IsWholeDisk(); got != want {
			t.Errorf("IsWholeDisk(%q) = %v", typ, got)
		}
	}
}
