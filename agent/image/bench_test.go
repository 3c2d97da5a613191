package image

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkWrite streams a 256 MiB image from a server on 127.0.0.1 into a
// file on tmpfs (/dev/shm when there is one), verifying it with sha256.
func BenchmarkWrite(b *testing.B) {
	const size = 256 << 20
	data := testImage(size)
	url := serve(b, &imageServer{data: data}).URL + "/image.raw"
	dir := b.TempDir()
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "image-bench-"); err == nil {
			dir = d
			b.Cleanup(func() { os.RemoveAll(d) })
		}
	}
	dev := filepath.Join(dir, "disk")
	if err := os.WriteFile(dev, nil, 0o600); err != nil {
		b.Fatal(err)
	}
	info := Info{ID: "bench", URLs: []string{url}, OSHashAlgo: "sha256", OSHashValue: sha256Hex(data)}
	opts := DefaultOptions()
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Write(context.Background(), info, dev, opts); err != nil {
			b.Fatal(err)
		}
	}
}
