package pluginhost

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

func TestMergeProvenance(t *testing.T) {
	tests := []struct {
		name  string
		parts []string // vendor, generic
		want  map[string]*Contribution
	}{
		{name: "components to the highest",
			parts: []string{`{"cpu":{"count":8}}`, `{"cpu":{"count":2},"memory":{"total":1}}`},
			want: map[string]*Contribution{
				"vendor":  {Components: []string{"cpu"}},
				"generic": {Components: []string{"memory"}},
			}},
		{name: "disk fields by who filled them",
			parts: []string{
				`{"disks":[{"name":"/dev/sda","model":"V","serial":null}]}`,
				`{"disks":[{"name":"/dev/sda","model":"G","serial":"S1"},{"name":"/dev/sdb","size":5}],"interfaces":[{"name":"eth0","mac_address":"m"}]}`,
			},
			want: map[string]*Contribution{
				// The vendor's null serial was filled by generic: the field
				// is generic's.
				"vendor": {Components: []string{}, Disks: map[string][]string{"/dev/sda": {"model", "name"}}},
				"generic": {Components: []string{},
					Disks:      map[string][]string{"/dev/sda": {"serial"}, "/dev/sdb": {"name", "size"}},
					Interfaces: map[string][]string{"eth0": {"mac_address", "name"}}},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var parts []map[string]any
			for _, p := range tt.parts {
				var m map[string]any
				if err := json.Unmarshal([]byte(p), &m); err != nil {
					t.Fatal(err)
				}
				parts = append(parts, m)
			}
			_, prov := MergeInventoriesFrom([]string{"vendor", "generic"}, parts)
			if diff := cmp.Diff(tt.want, prov.ByManager()); diff != "" {
				t.Errorf("by manager (-want +got):\n%s", diff)
			}
		})
	}
}

func TestInventoryWithProvenanceAndReport(t *testing.T) {
	h := startHost(t, pluginDir(t, "low-1", "top-3"), func(o *Options) {
		o.Builtins = []Builtin{{Name: "inproc", Manager: &inproc{}}}
	})
	inv, prov, err := h.InventoryWithProvenance(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if inv["hostname"] != "top" || prov.Components["hostname"] != "top-3" || prov.Components["cpu"] != "inproc" {
		t.Errorf("hostname %v from %q, cpu from %q", inv["hostname"], prov.Components["hostname"], prov.Components["cpu"])
	}
	if by := prov.ByManager()["top-3"]; by == nil || !cmp.Equal(by.Disks["/dev/sda"], []string{"by_path", "hctl", "model", "name", "rotational", "serial", "size", "vendor", "wwn", "wwn_vendor_extension", "wwn_with_extension"}) {
		t.Errorf("top-3 supplied %+v", by)
	}

	var buf bytes.Buffer
	if err := WritePlugins(&buf, h.Plugins()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "ORDER") {
		t.Fatalf("table:\n%s", buf.String())
	}
	for i, want := range [][]string{
		{"1", "top-3", "top_manager 1.3", "not verified (no manifest)", "running"},
		{"2", "inproc", "(builtin)", "inproc 9", "running"},
		{"3", "low-1", "low_manager 1.1", "running"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[i+1], w) {
				t.Errorf("row %d %q lacks %q", i+1, lines[i+1], w)
			}
		}
	}
}

// inproc is a builtin manager with a CPU.
type inproc struct{}

func (inproc) EvaluateHardwareSupport(context.Context, sdk.HostConfig) (sdk.SupportLevel, error) {
	return sdk.SupportMainline, nil
}
func (inproc) Version(context.Context) (sdk.Version, error) {
	return sdk.Version{Name: "inproc", Version: "9"}, nil
}
func (inproc) Inventory(context.Context) (*sdk.Inventory, error) {
	return &sdk.Inventory{CPU: &sdk.CPU{ModelName: "x", Count: 1}}, nil
}
func (inproc) Steps(context.Context, sdk.StepsRequest) ([]sdk.Step, error) { return nil, nil }
func (inproc) Execute(context.Context, sdk.ExecuteRequest) (json.RawMessage, error) {
	return nil, sdk.NotSupported("nothing")
}
