package loopdev

import (
	"bytes"
	"os"
	"testing"
)

func TestAttachReadsThrough(t *testing.T) {
	file := NewFile(t, 1<<20, 0x5A)
	dev := Attach(t, file, false)
	f, err := os.OpenFile(dev, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("loop"), 4096); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if got := ReadAt(t, file, 4096, 4); !bytes.Equal(got, []byte("loop")) {
		t.Errorf("file holds %q after writing the device, want %q", got, "loop")
	}
	if got := ReadAt(t, file, 0, 2); !bytes.Equal(got, []byte{0x5A, 0x5A}) {
		t.Errorf("fill = %x", got)
	}
}
