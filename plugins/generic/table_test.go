package generic

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// image is an in-memory disk for the partition-table tests.
type image []byte

func (im image) putMBREntry(at int64, i int, status, typ byte, start, count uint32) {
	e := im[at+446+16*int64(i):]
	e[0], e[4] = status, typ
	binary.LittleEndian.PutUint32(e[8:], start)
	binary.LittleEndian.PutUint32(e[12:], count)
	im[at+510], im[at+511] = 0x55, 0xAA
}

// putGPT writes a GPT header at block hdr whose entries start at block
// entries, with one entry per [first, last] pair.
func (im image) putGPT(sector, hdr, entries int64, spans ...[2]uint64) {
	h := im[hdr*sector:]
	copy(h, "EFI PART")
	binary.LittleEndian.PutUint64(h[72:], uint64(entries))
	binary.LittleEndian.PutUint32(h[80:], 128)
	binary.LittleEndian.PutUint32(h[84:], 128)
	for i, s := range spans {
		e := im[entries*sector+int64(i)*128:]
		e[0] = 0xAF // any non-zero type GUID
		binary.LittleEndian.PutUint64(e[32:], s[0])
		binary.LittleEndian.PutUint64(e[40:], s[1])
	}
}

func TestTablePartitions(t *testing.T) {
	const size = 64 * mib
	type span struct{ Start, Size int64 }
	tests := []struct {
		name   string
		sector int64
		build  func(im image)
		want   []span
	}{
		{"blank", 512, func(image) {}, nil},
		{
			name:   "GPT primary and backup",
			sector: 512,
			build: func(im image) {
				im.putMBREntry(0, 0, 0, 0xEE, 1, size/512-1)
				im.putGPT(512, 1, 2, [2]uint64{2048, 43007}, [2]uint64{43008, 83967})
				im.putGPT(512, size/512-1, size/512-33, [2]uint64{2048, 43007}, [2]uint64{43008, 83967})
			},
			want: []span{{mib, 20 * mib}, {21 * mib, 20 * mib}, {mib, 20 * mib}, {21 * mib, 20 * mib}},
		},
		{
			name:   "GPT on 4Kn, entry past the end clipped",
			sector: 4096,
			build: func(im image) {
				im.putGPT(4096, 1, 2, [2]uint64{256, 1 << 40})
			},
			want: []span{{mib, size - mib}},
		},
		{
			name:   "MBR with logical partitions",
			sector: 512,
			build: func(im image) {
				im.putMBREntry(0, 0, 0x80, 0x83, 2048, 20480)
				im.putMBREntry(0, 1, 0, 0x05, 40960, 40960)
				// First EBR at the start of the extended partition, the
				// second 20480 blocks into it.
				im.putMBREntry(40960*512, 0, 0, 0x83, 2048, 8192)
				im.putMBREntry(40960*512, 1, 0, 0x05, 20480, 20480)
				im.putMBREntry((40960+20480)*512, 0, 0, 0x82, 2048, 4096)
			},
			want: []span{
				{2048 * 512, 20480 * 512}, {40960 * 512, 40960 * 512},
				{(40960 + 2048) * 512, 8192 * 512}, {(40960 + 20480 + 2048) * 512, 4096 * 512},
			},
		},
		{
			name:   "FAT boot sector is not a partition table",
			sector: 512,
			build: func(im image) {
				im.putMBREntry(0, 0, 0x80, 0x83, 2048, 20480)
				im[446+16] = 0x29
			},
			want: nil,
		},
		{
			name:   "absurd GPT entry count",
			sector: 512,
			build: func(im image) {
				im.putGPT(512, 1, 2, [2]uint64{2048, 4095})
				binary.LittleEndian.PutUint32(im[512+80:], 1<<30)
			},
			want: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			im := make(image, size)
			tt.build(im)
			var got []span
			for _, p := range tablePartitions(bytes.NewReader(im), size, tt.sector) {
				got = append(got, span{p.start, p.size})
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("partitions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMergePartitions(t *testing.T) {
	a := []partition{{"sda1", 1, 2}, {"sda2", 3, 4}}
	b := []partition{{"GPT entry 1", 1, 2}, {"GPT entry 3", 9, 9}}
	got := mergePartitions(a, b)
	want := []partition{{"sda1", 1, 2}, {"sda2", 3, 4}, {"GPT entry 3", 9, 9}}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(partition{})); diff != "" {
		t.Errorf("merge (-want +got):\n%s", diff)
	}
}
