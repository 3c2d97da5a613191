package blockdev

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

func TestEraseError(t *testing.T) {
	if err := EraseError("erase", nil); err != nil {
		t.Errorf("no failures: %v", err)
	}
	err := EraseError("metadata erase", map[string]error{"/dev/sdb": errors.New("b"), "/dev/sda": errors.New("a")})
	want := `Failed to conduct metadata erase on device(s): "/dev/sda": a, "/dev/sdb": b`
	if err == nil || err.Error() != want || sdk.TypeOf(err) != "BlockDeviceEraseError" || sdk.KindOf(err) != sdk.KindHardware {
		t.Errorf("EraseError = %v (%s), want %q", err, sdk.TypeOf(err), want)
	}
}

func TestCheckAll(t *testing.T) {
	inUse := sdk.HardwareError("ProtectedDeviceError", "sdb is mounted")
	tests := []struct {
		name          string
		results       map[string]error
		wantOK        []string
		wantUnchecked []string
		wantErr       string
	}{
		{"all free", map[string]error{}, []string{"/dev/sda", "/dev/sdb", "/dev/sdc"}, nil, ""},
		{"one unreadable", map[string]error{"/dev/sdc": errors.New("EIO")}, []string{"/dev/sda", "/dev/sdb"}, []string{"/dev/sdc"}, ""},
		{"one in use stops all", map[string]error{"/dev/sdb": inUse, "/dev/sdc": errors.New("EIO")}, nil, nil, "wipe: nothing was erased: sdb is mounted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, unchecked, err := CheckAll(hclog.NewNullLogger(), "wipe", []string{"/dev/sda", "/dev/sdb", "/dev/sdc"},
				func(name string) error { return tt.results[name] })
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr || sdk.TypeOf(err) != "ProtectedDeviceError" {
					t.Fatalf("err = %v, want ProtectedDeviceError %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantOK, ok); diff != "" {
				t.Errorf("ok (-want +got):\n%s", diff)
			}
			var got []string
			for n := range unchecked {
				got = append(got, n)
			}
			if diff := cmp.Diff(tt.wantUnchecked, got); diff != "" {
				t.Errorf("unchecked (-want +got):\n%s", diff)
			}
		})
	}
}
