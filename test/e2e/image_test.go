//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// The whole-disk test image: 64 MiB of pseudo-random bytes with a GPT
// (an ESP-typed and a Linux partition) written over them.
const (
	imageSize    = 64 * mib
	imageSectors = imageSize / sectorSize
	imageName    = "metalagent-e2e-disk.raw"
)

// testImage is the image file, its digest and its bytes.
type testImage struct {
	path   string
	sha256 string
	data   []byte
}

// buildTestImage writes the image into dir.
func buildTestImage(ctx context.Context, dir string) (*testImage, error) {
	img := &testImage{path: filepath.Join(dir, imageName)}
	data := make([]byte, imageSize)
	rand.NewChaCha8([32]byte{'m', 'e', 't', 'a', 'l', 'a', 'g', 'e', 'n', 't'}).Read(data)
	if err := os.WriteFile(img.path, data, 0o644); err != nil {
		return nil, err
	}
	// Fixed GUIDs keep the image, and so its digest, the same every run.
	if _, err := runCommand(ctx, "sgdisk", "--clear",
		"--disk-guid=6d657461-6c61-4765-8e74-2d6532652d30",
		"--new=1:2048:+16M", "--typecode=1:ef00", "--change-name=1:e2e-esp",
		"--partition-guid=1:6d657461-6c61-4765-8e74-2d6532652d31",
		"--new=2:0:0", "--typecode=2:8300", "--change-name=2:e2e-root",
		"--partition-guid=2:6d657461-6c61-4765-8e74-2d6532652d32",
		img.path); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(img.path)
	if err != nil {
		return nil, err
	}
	if len(data) != imageSize {
		return nil, fmt.Errorf("image is %d bytes, want %d", len(data), imageSize)
	}
	sum := sha256.Sum256(data)
	img.data, img.sha256 = data, hex.EncodeToString(sum[:])
	return img, nil
}

// imageServer serves the image over HTTP on 127.0.0.1 and records the
// requests it answered.
type imageServer struct {
	url string // full URL of the image
	srv *http.Server

	mu       sync.Mutex
	requests []string
	gets     int
}

// serveImage starts the server on a free loopback port.
func serveImage(img *testImage) (*imageServer, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &imageServer{url: fmt.Sprintf("http://%s/%s", l.Addr(), imageName)}
	modTime := time.Now().UTC().Truncate(time.Second)
	mux := http.NewServeMux()
	mux.HandleFunc("/"+imageName, func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests = append(s.requests, fmt.Sprintf("%s %s %s Range=%q UA=%q",
			time.Now().Format("15:04:05.000"), r.Method, r.URL.Path, r.Header.Get("Range"), r.UserAgent()))
		if r.Method == http.MethodGet {
			s.gets++
		}
		s.mu.Unlock()
		// ServeContent answers HEAD and ranges and sets Content-Length and
		// Last-Modified, which Ironic's HEAD check of an HTTP image needs.
		http.ServeContent(w, r, imageName, modTime, bytes.NewReader(img.data))
	})
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := s.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logf("image server: %v", err)
		}
	}()
	return s, nil
}

// close stops the server.
func (s *imageServer) close() {
	if s != nil {
		_ = s.srv.Close()
	}
}

// getCount is how many GET requests were answered.
func (s *imageServer) getCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gets
}

// log returns the request log, one request per line.
func (s *imageServer) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.requests) == 0 {
		return "(no requests)"
	}
	return strings.Join(s.requests, "\n")
}

// gptRewritableSectors are the image sectors an IPA-compatible agent may
// legitimately change after writing a GPT whole-disk image to a larger
// disk: IPA's fix_gpt_partition runs `sgdisk -e`, which rewrites the
// protective MBR (disk size field) and the primary header (backup
// location, last usable LBA, CRC) and writes a new backup at the disk's
// end, leaving the image's old backup area (last 33 sectors) behind or
// changed. Every other byte must match exactly.
func gptRewritableSectors() []byteRange {
	return []byteRange{
		{"protective MBR (LBA 0)", 0, sectorSize},
		{"primary GPT header (LBA 1)", sectorSize, sectorSize},
		{"image's backup GPT (its last 33 sectors)", imageSize - 33*sectorSize, 33 * sectorSize},
	}
}

// compareWithImage reads the image's length back from the disk and
// compares it with the image. It returns a description of how it matched
// or an error naming the first differences.
func compareWithImage(ctx context.Context, d *loopDisk, img *testImage) (string, error) {
	got, err := d.readAt(ctx, 0, imageSize)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(got)
	if hex.EncodeToString(sum[:]) == img.sha256 {
		return "disk matches the image byte for byte over its length (sha256 " + img.sha256 + ")", nil
	}
	inRewritable := func(off int64) bool {
		for _, r := range gptRewritableSectors() {
			if off >= r.offset && off < r.offset+r.len {
				return true
			}
		}
		return false
	}
	var diffs []string
	rewritten := map[string]bool{}
	for off := int64(0); off < imageSize; off += sectorSize {
		a, b := got[off:off+sectorSize], img.data[off:off+sectorSize]
		if bytes.Equal(a, b) {
			continue
		}
		if inRewritable(off) {
			for _, r := range gptRewritableSectors() {
				if off >= r.offset && off < r.offset+r.len {
					rewritten[r.name] = true
				}
			}
			continue
		}
		if len(diffs) < 10 {
			diffs = append(diffs, fmt.Sprintf("sector %d (byte %d) differs", off/sectorSize, off))
		} else {
			diffs = append(diffs, "...")
			break
		}
	}
	if len(diffs) > 0 {
		return "", fmt.Errorf("disk does not hold the image: %s", strings.Join(diffs, "; "))
	}
	// Only GPT sectors differ: accept it only if the result is a GPT whose
	// backup header now sits at the end of the disk (IPA's behaviour).
	backup, err := d.readAt(ctx, diskSize-sectorSize, len(gptHeaderMagic))
	if err != nil {
		return "", err
	}
	if !bytes.Equal(got[sectorSize:sectorSize+8], []byte(gptHeaderMagic)) || string(backup) != gptHeaderMagic {
		return "", fmt.Errorf("GPT sectors differ from the image but the disk has no valid-looking GPT with its backup at the end (changed: %v)", keys(rewritten))
	}
	return fmt.Sprintf("disk matches the image except the GPT sectors rewritten when the backup GPT was moved to the disk end (%s), as IPA's fix_gpt_partition does",
		strings.Join(keys(rewritten), ", ")), nil
}

// keys returns a map's keys (order unimportant for messages).
func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
