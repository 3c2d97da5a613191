package image

import (
	"context"
	"crypto/sha256"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/metalagent/metalagent/agent/metrics"
	"github.com/metalagent/metalagent/agent/metrics/metricstest"
)

const (
	bytesMetric = "metalagent_image_written_bytes_total"
	rateMetric  = "metalagent_image_write_rate_bytes"
)

// TestWriteMetrics checks that a whole write counts every image byte and
// leaves the rate at 0.
func TestWriteMetrics(t *testing.T) {
	data := testImage(9<<20 + 17)
	srv := serve(t, &imageServer{data: data})
	m := metrics.New()
	opts := testOptions(t)
	opts.Metrics = m
	info := Info{ID: "img-1", URLs: []string{srv.URL + "/i.raw"}, OSHashAlgo: "sha256", OSHashValue: sha256Hex(data)}
	for i := 1; i <= 2; i++ {
		if _, err := Write(context.Background(), info, targetFile(t), opts); err != nil {
			t.Fatalf("Write %d: %v", i, err)
		}
		if got, want := metricstest.Value(t, m, bytesMetric, nil), float64(i*len(data)); got != want {
			t.Errorf("after write %d: %s = %v, want %v", i, bytesMetric, got, want)
		}
		if got := metricstest.Value(t, m, rateMetric, nil); got != 0 {
			t.Errorf("after write %d: %s = %v, want 0", i, rateMetric, got)
		}
	}
}

// gatedWriter blocks its n-th WriteAt until released.
type gatedWriter struct {
	mu      sync.Mutex
	calls   int
	gateAt  int
	reached chan struct{}
	release chan struct{}
}

func (w *gatedWriter) WriteAt(p []byte, _ int64) (int, error) {
	w.mu.Lock()
	w.calls++
	n := w.calls
	w.mu.Unlock()
	if n == w.gateAt {
		close(w.reached)
		<-w.release
	}
	return len(p), nil
}

// TestPipelineRate checks that the rate gauge shows the rate while a
// write is under way and drops to 0 at its end.
func TestPipelineRate(t *testing.T) {
	old := rateEvery
	rateEvery = 10 * time.Millisecond
	t.Cleanup(func() { rateEvery = old })

	m := metrics.New()
	w := &gatedWriter{gateAt: 3, reached: make(chan struct{}), release: make(chan struct{})}
	_, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	p := newPipeline(w, sha256.New(), cancel, hclog.NewNullLogger(), m)
	const chunk = 1 << 20
	start := time.Now()
	for i := 0; i < 3; i++ {
		b, err := p.buffer(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		p.send(b[:chunk])
		time.Sleep(2 * rateEvery)
	}
	<-w.reached // the first two chunks are written and timed
	elapsed := time.Since(start)
	rate := metricstest.Value(t, m, rateMetric, nil)
	// The gauge covers at most the two chunks written before the gate
	// over at least rateEvery (a late first write can land in the same
	// interval as the second under load), and at least one chunk over at
	// most the whole elapsed time.
	if high := 2 * chunk / rateEvery.Seconds(); rate <= 0 || rate > high*1.01 {
		t.Errorf("rate during the write = %v B/s, want in (0, %v]", rate, high)
	}
	if low := chunk / elapsed.Seconds(); rate < low*0.99 {
		t.Errorf("rate during the write = %v B/s, below one chunk over the whole time (%v)", rate, low)
	}
	close(w.release)
	size, _, err := p.close()
	if err != nil || size != 3*chunk {
		t.Fatalf("close: %d bytes, %v; want %d", size, err, 3*chunk)
	}
	if got := metricstest.Value(t, m, rateMetric, nil); got != 0 {
		t.Errorf("rate after the write = %v, want 0", got)
	}
	if got := metricstest.Value(t, m, bytesMetric, nil); got != 3*chunk {
		t.Errorf("%s = %v, want %d", bytesMetric, got, 3*chunk)
	}
}
