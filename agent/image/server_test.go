package image

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// testImage returns size pseudo-random bytes with an MBR disk signature
// 0x12345678 and boot signature, the same for the same size.
func testImage(size int) []byte {
	b := make([]byte, size)
	r := rand.NewChaCha8([32]byte{1, 2, 3})
	_, _ = r.Read(b)
	if size >= 512 {
		copy(b[440:], []byte{0x78, 0x56, 0x34, 0x12})
		b[510], b[511] = 0x55, 0xAA
	}
	return b
}

func sha256Hex(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
func sha512Hex(b []byte) string { s := sha512.Sum512(b); return hex.EncodeToString(s[:]) }
func md5Hex(b []byte) string    { s := md5.Sum(b); return hex.EncodeToString(s[:]) }

// imageServer serves one image and counts what it serves.
type imageServer struct {
	data []byte
	// ranges serves with http.ServeContent (Accept-Ranges, Range, If-Range).
	ranges bool
	// ignoreRange advertises Accept-Ranges but always answers 200 whole.
	ignoreRange bool
	// status, when set, is the answer to every request.
	status int
	// failFirst answers 500 to that many requests first.
	failFirst int
	// cutAt aborts the connection after that many body bytes of the first
	// successful request (0: never).
	cutAt int
	// stallAt stops sending after that many body bytes of the first
	// successful request until the client gives up (0: never).
	stallAt int
	// started, if set, is closed once the first body bytes are sent and the
	// handler then blocks until the client goes away.
	started chan struct{}

	requests atomic.Int32
	served   atomic.Int64
	mu       sync.Mutex
	rangeHdr []string
}

func (s *imageServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := int(s.requests.Add(1))
	s.mu.Lock()
	s.rangeHdr = append(s.rangeHdr, r.Header.Get("Range"))
	s.mu.Unlock()
	switch {
	case s.status != 0:
		http.Error(w, "no image here", s.status)
		return
	case n <= s.failFirst:
		http.Error(w, "try again later", http.StatusInternalServerError)
		return
	}
	first := n == s.failFirst+1
	cw := &countingWriter{ResponseWriter: w, s: s, limit: -1}
	if first && s.cutAt > 0 {
		cw.limit = s.cutAt
	}
	if first && s.stallAt > 0 {
		cw.limit, cw.stall = s.stallAt, r.Context().Done()
	}
	if first && s.started != nil {
		cw.limit, cw.stall, cw.started = 1<<20, r.Context().Done(), s.started
	}
	if s.ranges {
		w.Header().Set("ETag", `"v1"`)
		http.ServeContent(cw, r, "image.raw", time.Time{}, bytes.NewReader(s.data))
		return
	}
	if s.ignoreRange {
		w.Header().Set("Accept-Ranges", "bytes")
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(s.data)))
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = cw.Write(s.data)
}

// countingWriter counts body bytes and, past limit, cuts or stalls.
type countingWriter struct {
	http.ResponseWriter
	s       *imageServer
	limit   int
	stall   <-chan struct{}
	started chan struct{}
	n       int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.limit < 0 || c.n+len(p) <= c.limit {
		m, err := c.ResponseWriter.Write(p)
		c.n += m
		c.s.served.Add(int64(m))
		return m, err
	}
	m, _ := c.ResponseWriter.Write(p[:c.limit-c.n])
	c.n += m
	c.s.served.Add(int64(m))
	c.ResponseWriter.(http.Flusher).Flush()
	if c.started != nil {
		close(c.started)
	}
	if c.stall != nil {
		<-c.stall
	}
	panic(http.ErrAbortHandler)
}

func (s *imageServer) rangeHeaders() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.rangeHdr...)
}

// serve starts h on 127.0.0.1.
func serve(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// testOptions are fast options that log to the test.
func testOptions(t testing.TB) Options {
	return Options{
		ConnectTimeout: 5 * time.Second,
		Retries:        3,
		RetryInterval:  10 * time.Millisecond,
		AllowMD5:       true,
		Logger: hclog.New(&hclog.LoggerOptions{
			Name: t.Name(), Level: hclog.Debug, Output: testWriter{t},
		}),
	}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// targetFile returns an empty regular file standing for the device.
func targetFile(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "disk")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
