package generic

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"

	"github.com/metalagent/metalagent/plugin-sdk/tool/tooltest"
)

// mdV1 returns a version 1 md superblock header that says it lies at
// sector superOffset.
func mdV1(superOffset uint64) []byte {
	b := make([]byte, 256)
	binary.LittleEndian.PutUint32(b, mdMagic)
	binary.LittleEndian.PutUint32(b[4:], 1)
	binary.LittleEndian.PutUint64(b[144:], superOffset)
	return b
}

// mdV090 returns the start of a version 0.90 superblock in byte order o.
func mdV090(o binary.ByteOrder) []byte {
	b := make([]byte, 8)
	o.PutUint32(b, mdMagic)
	o.PutUint32(b[4:], 0)
	return b
}

func TestMDSuperblock(t *testing.T) {
	const size = 8 << 20
	end10 := int64((size/512-16)&^7) * 512
	end090 := int64(size&^(64<<10-1) - 64<<10)
	tests := []struct {
		name string
		off  int64
		sb   []byte
		want string
	}{
		{"none", 0, nil, ""},
		{"1.1 at the start", 0, mdV1(0), "1.1"},
		{"1.2 at 4 KiB", 4096, mdV1(8), "1.2"},
		{"1.0 near the end", end10, mdV1(uint64(end10 / 512)), "1.0"},
		{"1.2 recording another offset", 4096, mdV1(0), ""},
		{"0.90 little-endian", end090, mdV090(binary.LittleEndian), "0.90"},
		{"0.90 big-endian", end090, mdV090(binary.BigEndian), "0.90"},
		{"magic with another version", 4096, func() []byte { b := mdV1(8); b[4] = 2; return b }(), ""},
		{"magic alone (a partition's stray bytes)", 4096, []byte{0xfc, 0x4e, 0x2b, 0xa9}, ""},
	}
	for _, tt := range tests {
		img := bytes.Repeat([]byte{pattern}, size)
		copy(img[tt.off:], tt.sb)
		if got := mdSuperblock(bytes.NewReader(img), size); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
	if got := mdSuperblock(bytes.NewReader(nil), 0); got != "" {
		t.Errorf("empty device: %q", got)
	}
}

// TestEraseBlockDeviceSkipsRAIDMemberLoop: a loop device carrying an md
// superblock on its GPT's second partition is left alone, as IPA leaves
// RAID members, and no tool is run on it.
func TestEraseBlockDeviceSkipsRAIDMemberLoop(t *testing.T) {
	ld := newLoopDisk(t, 64*mib, false, func(t *testing.T, file string) {
		writeGPT(t, file)
		writeAt(t, file, testLayout[1].start+4096, mdV1(8))
	})
	before := readAt(t, ld.file, 0, ld.size)
	m, opened := liveManager(t, ld.dev)
	runner := tooltest.New(t, nil)
	m.sys.tools = runner
	res, err := m.Execute(context.Background(), eraseBlockDeviceReq(ld.dev, `{}`))
	if err != nil || string(res) != "null" {
		t.Fatalf("erase_block_device: %s, %v; want null", res, err)
	}
	if got := opened(); len(got) != 0 {
		t.Errorf("opened %v for writing", got)
	}
	if calls := runner.Calls(); len(calls) != 0 {
		t.Errorf("ran %q", calls)
	}
	if !bytes.Equal(before, readAt(t, ld.file, 0, ld.size)) {
		t.Error("the RAID member was written")
	}
}
