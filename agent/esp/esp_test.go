package esp

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fixture returns the decompressed bytes of testdata/name (made by
// testdata/make-fixtures.sh with mkfs.vfat, mtools, sgdisk and sfdisk).
func fixture(t *testing.T, name string) []byte {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func openFAT(t *testing.T, name string) *FS {
	t.Helper()
	b := fixture(t, name)
	fs, err := OpenFAT(bytes.NewReader(b), 0, int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

func TestFATWalk(t *testing.T) {
	tests := []struct {
		fixture string
		bits    int
		uuid    string
		want    []string // paths, directories with a trailing /
	}{
		{"esp-debian.fat16.gz", 16, "1A2B-3C4D", []string{
			"EFI/", "EFI/BOOT/", "EFI/debian/",
			"EFI/BOOT/BOOTX64.EFI", "EFI/BOOT/fbx64.efi",
			"EFI/debian/shimx64.efi", "EFI/debian/grubx64.efi", "EFI/debian/mmx64.efi", "EFI/debian/grub.cfg", "EFI/debian/BOOTX64.CSV",
		}},
		{"esp-bootx64.fat32.gz", 32, "0BAD-F00D", []string{
			"A directory with a rather long name/", "EFI/",
			"A directory with a rather long name/sub/",
			"A directory with a rather long name/sub/notes about the loader.txt",
			"EFI/BOOT/", "EFI/BOOT/BOOTX64.EFI",
		}},
		{"esp-empty.fat12.gz", 12, "00C0-FFEE", []string{"EFI/", "EFI/README.TXT"}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			fs := openFAT(t, tt.fixture)
			if fs.Bits() != tt.bits || fs.UUID() != tt.uuid {
				t.Errorf("FAT%d %s, want FAT%d %s", fs.Bits(), fs.UUID(), tt.bits, tt.uuid)
			}
			var got []string
			if err := fs.Walk(func(e Entry) bool {
				p := e.Path
				if e.Dir {
					p += "/"
				}
				got = append(got, p)
				return true
			}); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("walk (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFATReadFile(t *testing.T) {
	tests := []struct {
		fixture, path, want string
	}{
		{"esp-debian.fat16.gz", "EFI/debian/shimx64.efi", "MZ EFI/debian/shimx64.efi\n"},
		{"esp-bootx64.fat32.gz", "EFI/BOOT/BOOTX64.EFI", string(bytes.Repeat([]byte("x"), 5000))}, // ten clusters
		{"esp-empty.fat12.gz", "EFI/README.TXT", "nothing here\n"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			fs := openFAT(t, tt.fixture)
			var found *Entry
			_ = fs.Walk(func(e Entry) bool {
				if e.Path == tt.path {
					found = &e
				}
				return found == nil
			})
			if found == nil {
				t.Fatalf("%s not found", tt.path)
			}
			b, err := fs.ReadFile(*found)
			if err != nil || string(b) != tt.want {
				t.Errorf("ReadFile = %d bytes %q..., %v; want %d bytes", len(b), firstBytes(b), err, len(tt.want))
			}
		})
	}
}

func firstBytes(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}

func TestOpenFATRefusesOtherData(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{"zeros", make([]byte, 1<<20)},
		{"signature only", func() []byte { b := make([]byte, 4096); b[510], b[511] = 0x55, 0xAA; return b }()},
		{"too short", make([]byte, 100)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := OpenFAT(bytes.NewReader(tt.data), 0, int64(len(tt.data))); err == nil {
				t.Error("opened as FAT")
			}
		})
	}
	// A volume larger than the partition it is said to fill.
	b := fixture(t, "esp-empty.fat12.gz")
	if _, err := OpenFAT(bytes.NewReader(b), 0, int64(len(b))/2); err == nil {
		t.Error("opened a FAT volume larger than its partition")
	}
}

func TestFindLoadersAndBootEntries(t *testing.T) {
	tests := []struct {
		fixture string
		want    []BootEntry
	}{
		// The CSV hint wins over the fallback loader found before it.
		{"esp-debian.fat16.gz", []BootEntry{{Loader: `\EFI\debian\shimx64.efi`, Label: "debian", From: "EFI/debian/BOOTX64.CSV"}}},
		{"esp-bootx64.fat32.gz", []BootEntry{{Loader: `\EFI\BOOT\BOOTX64.EFI`, Label: "ironic1", From: "EFI/BOOT/BOOTX64.EFI"}}},
		{"esp-empty.fat12.gz", nil},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			fs := openFAT(t, tt.fixture)
			loaders, err := FindLoaders(fs)
			if err != nil {
				t.Fatal(err)
			}
			got, err := BootEntries(fs, loaders)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("boot entries (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeUTF16(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"little endian with mark", []byte{0xFF, 0xFE, 'a', 0, ',', 0, 'b', 0}, "a,b"},
		{"big endian with mark", []byte{0xFE, 0xFF, 0, 'a', 0, ',', 0, 'b'}, "a,b"},
		{"no mark: little endian", []byte{'a', 0, ',', 0}, "a,"},
	}
	for _, tt := range tests {
		if got := decodeUTF16(tt.in); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestFind(t *testing.T) {
	tests := []struct {
		name, fixture, uuid string
		wantOK              bool
		want                Partition
	}{
		{"GPT type", "disk-gpt-esp.img.gz", "", true,
			Partition{Number: 1, ESP: true, PartUUID: "6d657461-6c61-4765-8e74-000000000001", Offset: 1 << 20, Size: 4 << 20}},
		{"GPT type beats uuid", "disk-gpt-esp.img.gz", "6d657461-6c61-4765-8e74-000000000002", true,
			Partition{Number: 1, ESP: true, PartUUID: "6d657461-6c61-4765-8e74-000000000001", Offset: 1 << 20, Size: 4 << 20}},
		{"basic data: no ESP without uuid", "disk-gpt-basic.img.gz", "", false, Partition{}},
		{"basic data by PARTUUID", "disk-gpt-basic.img.gz", "6D657461-6C61-4765-8E74-000000000011", true,
			Partition{Number: 1, PartUUID: "6d657461-6c61-4765-8e74-000000000011", Offset: 1 << 20, Size: 4 << 20}},
		{"basic data by FAT UUID", "disk-gpt-basic.img.gz", "1a2b-3c4d", true,
			Partition{Number: 1, PartUUID: "6d657461-6c61-4765-8e74-000000000011", Offset: 1 << 20, Size: 4 << 20}},
		{"unknown uuid", "disk-gpt-basic.img.gz", "ffff-ffff", false, Partition{}},
		{"MBR type 0xEF", "disk-mbr-esp.img.gz", "", true, Partition{Number: 1, ESP: true, Offset: 1 << 20, Size: 4 << 20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := fixture(t, tt.fixture)
			got, ok, err := Find(bytes.NewReader(b), int64(len(b)), tt.uuid)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tt.wantOK || got != tt.want {
				t.Errorf("Find = %+v, %v; want %+v, %v", got, ok, tt.want, tt.wantOK)
			}
			if ok {
				fs, err := OpenFAT(bytes.NewReader(b), got.Offset, got.Size)
				if err != nil || fs.UUID() != "1A2B-3C4D" {
					t.Errorf("ESP file system: %v, %v", fs, err)
				}
			}
		})
	}
	if _, ok, err := Find(bytes.NewReader(make([]byte, 1<<20)), 1<<20, "1a2b-3c4d"); ok || err != nil {
		t.Errorf("a blank disk: ESP found %v, error %v", ok, err)
	}
	if _, err := Partitions(bytes.NewReader(make([]byte, 1<<20)), 1<<20); !errors.Is(err, ErrNoTable) {
		t.Errorf("a blank disk's partitions: %v, want ErrNoTable", err)
	}
}
