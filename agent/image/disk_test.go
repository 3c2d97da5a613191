package image

import (
	"os"
	"path/filepath"
	"testing"
)

func TestPartitionTableInfo(t *testing.T) {
	gpt := make([]byte, 1024)
	gpt[450] = 0xEE // protective MBR partition type
	gpt[510], gpt[511] = 0x55, 0xAA
	tests := []struct {
		name    string
		data    []byte
		id      string
		table   bool
		wantErr bool
	}{
		{"mbr", testImage(4096), "0x12345678", true, false},
		{"protective mbr", gpt, "0x00000000", true, false},
		{"blank", make([]byte, 4096), "0x00000000", false, false},
		{"short", make([]byte, 100), "", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "disk")
			if err := os.WriteFile(p, tt.data, 0o600); err != nil {
				t.Fatal(err)
			}
			id, table, err := PartitionTableInfo(p)
			if (err != nil) != tt.wantErr || id != tt.id || table != tt.table {
				t.Errorf("PartitionTableInfo = %q, %v, %v; want %q, %v, error %v", id, table, err, tt.id, tt.table, tt.wantErr)
			}
		})
	}
	if _, _, err := PartitionTableInfo(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("no error for a missing device")
	}
}
