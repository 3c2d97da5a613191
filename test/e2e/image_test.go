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
// (an ESP-typed and a Linux partition) written over them, and a FAT ESP
// with a boot loader at the start of the ESP partition (esp_image_test.go).
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
	if err := writeImageESP(img.path); err != nil {
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

// imageServer serves the image over HTTP on 127.0.0.1 and records every
// request it answered. Besides the image it offers two bad URLs for the
// bad-input phases: missingURL answers 404 to everything, headOnlyURL
// answers HEAD exactly like url but GET with 404, so that Ironic's own
// HEAD check passes and only the agent's download fails.
type imageServer struct {
	url         string // full URL of the image
	missingURL  string // 404 for HEAD and GET
	headOnlyURL string // HEAD as for url, 404 for GET
	srv         *http.Server

	mu       sync.Mutex
	requests []servedRequest
}

// servedRequest is one line of the image server's request log.
type servedRequest struct {
	at           time.Time
	method, path string
	rangeHdr, ua string
	status       int
}

// Paths of the bad URLs (the image's name stays last, as Ironic derives
// the image ID the agent reports from the URL's last segment).
const (
	missingPath  = "/missing/" + imageName
	headOnlyPath = "/head-only/" + imageName
)

// serveImage starts the server on a free loopback port.
func serveImage(img *testImage) (*imageServer, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	base := "http://" + l.Addr().String()
	s := &imageServer{url: base + "/" + imageName, missingURL: base + missingPath, headOnlyURL: base + headOnlyPath}
	modTime := time.Now().UTC().Truncate(time.Second)
	serve := func(w http.ResponseWriter, r *http.Request) {
		// ServeContent answers HEAD and ranges and sets Content-Length and
		// Last-Modified, which Ironic's HEAD check of an HTTP image needs.
		http.ServeContent(w, r, imageName, modTime, bytes.NewReader(img.data))
	}
	handler := func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		switch {
		case r.URL.Path == "/"+imageName:
			serve(sw, r)
		case r.URL.Path == headOnlyPath && r.Method == http.MethodHead:
			serve(sw, r)
		default: // missingPath, a GET of headOnlyPath, anything else
			http.NotFound(sw, r)
		}
		s.mu.Lock()
		s.requests = append(s.requests, servedRequest{time.Now(), r.Method, r.URL.Path, r.Header.Get("Range"), r.UserAgent(), sw.status})
		s.mu.Unlock()
	}
	s.srv = &http.Server{Handler: http.HandlerFunc(handler), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := s.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logf("image server: %v", err)
		}
	}()
	return s, nil
}

// statusWriter remembers the status code a handler sent.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// close stops the server.
func (s *imageServer) close() {
	if s != nil {
		_ = s.srv.Close()
	}
}

// getCount is how many GET requests of the image itself were answered.
func (s *imageServer) getCount() int {
	return s.count(http.MethodGet, "/"+imageName)
}

// count is how many requests with this method and path were answered.
func (s *imageServer) count(method, path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.requests {
		if r.method == method && r.path == path {
			n++
		}
	}
	return n
}

// log returns the request log, one request per line.
func (s *imageServer) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.requests) == 0 {
		return "(no requests)"
	}
	lines := make([]string, len(s.requests))
	for i, r := range s.requests {
		lines[i] = fmt.Sprintf("%s %s %s -> %d Range=%q UA=%q", r.at.Format("15:04:05.000"), r.method, r.path, r.status, r.rangeHdr, r.ua)
	}
	return strings.Join(lines, "\n")
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
