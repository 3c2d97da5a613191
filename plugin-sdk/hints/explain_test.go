package hints

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

func TestExplain(t *testing.T) {
	disks := []sdk.BlockDevice{
		{Name: "/dev/sda", Size: 100 << 30, Serial: sdk.Ptr("S-A")},
		{Name: "/dev/sdb", Size: 8 << 30, Serial: sdk.Ptr("S-B")},
		{Name: "/dev/sdc", Size: 1 << 30},
		{Name: "/dev/sdd", Size: 8 << 30, Serial: sdk.Ptr("S-D")},
	}
	parse := func(m map[string]any) Hints {
		h, err := Parse(m)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	tests := []struct {
		name  string
		hints Hints
		skip  []Hints
		want  []Verdict
	}{
		{"default rule", Hints{}, nil, []Verdict{
			{"/dev/sda", false, "larger than /dev/sdb, or the same size with a later name"},
			{"/dev/sdb", true, "smallest disk of at least 4 GiB (no root device hints)"},
			{"/dev/sdc", false, "smaller than 4 GiB (1073741824 bytes)"},
			{"/dev/sdd", false, "larger than /dev/sdb, or the same size with a later name"},
		}},
		{"serial hint", parse(map[string]any{"serial": "S-D"}), nil, []Verdict{
			{"/dev/sda", false, `hint serial="S-D" does not match: the disk has "S-A"`},
			{"/dev/sdb", false, `hint serial="S-D" does not match: the disk has "S-B"`},
			{"/dev/sdc", false, `hint serial="S-D" does not match: the disk has null`},
			{"/dev/sdd", true, `first disk matching every hint {"serial":"S-D"}`},
		}},
		{"size hint, two match", parse(map[string]any{"size": ">= 8"}), nil, []Verdict{
			{"/dev/sda", true, `first disk matching every hint {"size":">= 8"}`},
			{"/dev/sdb", false, "matches every hint, but /dev/sda comes first"},
			{"/dev/sdc", false, `hint size=">= 8" does not match: the disk has 1 GiB`},
			{"/dev/sdd", false, "matches every hint, but /dev/sda comes first"},
		}},
		{"skip list", Hints{}, []Hints{parse(map[string]any{"name": "/dev/sdb"})}, []Verdict{
			{"/dev/sda", false, "larger than /dev/sdd, or the same size with a later name"},
			{"/dev/sdb", false, `matches skip_block_devices entry {"name":"/dev/sdb"}`},
			{"/dev/sdc", false, "smaller than 4 GiB (1073741824 bytes)"},
			{"/dev/sdd", true, "smallest disk of at least 4 GiB (no root device hints)"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Explain(disks, tt.hints, tt.skip)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
