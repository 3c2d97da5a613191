package image

import (
	"bytes"
	"context"
	"net/http"
	"sync"
	"testing"
)

// recordingWriter keeps what is written to it and where.
type recordingWriter struct {
	mu     sync.Mutex
	data   []byte
	writes [][2]int64 // offset, length
}

func (w *recordingWriter) WriteAt(p []byte, off int64) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if end := off + int64(len(p)); end > int64(len(w.data)) {
		w.data = append(w.data, make([]byte, end-int64(len(w.data)))...)
	}
	copy(w.data[off:], p)
	w.writes = append(w.writes, [2]int64{off, int64(len(p))})
	return len(p), nil
}

// TestStreamWholeBufferWrites checks that downloads cut or stalled in the
// middle of a buffer still reach the device in whole buffers at
// multiples of the buffer size, only the image's last write being short:
// what keeps O_DIRECT aligned after a resume.
func TestStreamWholeBufferWrites(t *testing.T) {
	size := 2*bufSize + 3*512 + 7
	data := testImage(size)
	tests := []struct {
		name string
		srv  *imageServer
	}{
		{"uncut", &imageServer{data: data, ranges: true}},
		{"cut mid-buffer, resumed", &imageServer{data: data, ranges: true, cutAt: bufSize + 12345}},
		{"cut mid-buffer, restarted", &imageServer{data: data, cutAt: bufSize + 12345}},
		{"cut at a buffer's end, resumed", &imageServer{data: data, ranges: true, cutAt: bufSize}},
		{"cut in the last buffer, resumed", &imageServer{data: data, ranges: true, cutAt: 2*bufSize + 100}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url := serve(t, tc.srv).URL + "/image.raw"
			opts := testOptions(t)
			f := &fetcher{client: &http.Client{}, timeout: opts.ConnectTimeout, retries: opts.Retries,
				interval: opts.RetryInterval, log: opts.Logger}
			w := &recordingWriter{}
			info := Info{ID: "img-1", URLs: []string{url}}
			sum := checksum{algo: algorithms["sha256"], expected: sha256Hex(data)}
			res, err := stream(context.Background(), f, info, "test", w, -1, sum, opts.Logger, nil)
			if err != nil {
				t.Fatalf("stream: %v", err)
			}
			if res.Bytes != int64(size) || !bytes.Equal(w.data, data) {
				t.Fatalf("wrote %d bytes (%d recorded), want the %d-byte image", res.Bytes, len(w.data), size)
			}
			// After a restart from zero the offsets start over; each
			// write must still be a whole buffer at a multiple of its
			// size, except the very last.
			for i, wr := range w.writes {
				last := i == len(w.writes)-1
				if wr[0]%bufSize != 0 || (!last && wr[1] != bufSize) {
					t.Errorf("write %d: %d bytes at %d; writes %v", i, wr[1], wr[0], w.writes)
				}
			}
		})
	}
}
