package image

import (
	"context"
	"fmt"
	"hash"
	"io"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/metalagent/metalagent/agent/metrics"
)

// Sizes of the ring of buffers between download, hash and write: at most
// bufCount*bufSize bytes of image are in memory at any time. Every write
// but the image's last is one whole buffer at a multiple of bufSize, which
// keeps direct I/O aligned.
const (
	bufSize  = 4 << 20
	bufCount = 6
)

// progressEvery is the interval between progress log lines.
const progressEvery = 5 * time.Second

// rateEvery is the interval between updates of the write-rate gauge
// (tests shorten it).
var rateEvery = time.Second

// segment is a filled buffer, or a reset marker (buf nil) that restarts
// the hash and the write offset.
type segment struct {
	buf   []byte
	reset bool
}

// pipeline hashes and writes buffers concurrently with the download that
// fills them: the downloader fills a buffer, a hasher goroutine adds it
// to the hash, a writer goroutine writes it at the next offset and
// returns it to the free ring. Order is kept by the channels.
type pipeline struct {
	free      chan []byte
	toHash    chan segment
	toWrite   chan segment
	h         hash.Hash
	dst       io.WriterAt
	cancel    context.CancelCauseFunc
	log       hclog.Logger
	metrics   *metrics.Metrics
	done      chan struct{}
	allocated int // buffers made so far; only the downloader touches it

	// Owned by the writer goroutine until done is closed.
	size int64
	err  error
}

// newPipeline starts the hasher and writer goroutines. A write error
// cancels the download through cancel. m, when not nil, counts the bytes
// written and tracks the write rate.
func newPipeline(dst io.WriterAt, h hash.Hash, cancel context.CancelCauseFunc, log hclog.Logger, m *metrics.Metrics) *pipeline {
	p := &pipeline{
		free:    make(chan []byte, bufCount),
		toHash:  make(chan segment, bufCount+1),
		toWrite: make(chan segment, bufCount+1),
		h:       h,
		dst:     dst,
		cancel:  cancel,
		log:     log,
		metrics: m,
		done:    make(chan struct{}),
	}
	go p.hashLoop()
	go p.writeLoop()
	return p
}

// buffer returns an empty buffer, waiting for one to be free.
func (p *pipeline) buffer(ctx context.Context) ([]byte, error) {
	select {
	case b := <-p.free:
		return b, nil
	default:
	}
	if p.allocated < bufCount {
		b, err := allocBuffer(bufSize)
		if err != nil {
			return nil, err
		}
		p.allocated++
		return b, nil
	}
	select {
	case b := <-p.free:
		return b, nil
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// release returns an unused buffer.
func (p *pipeline) release(b []byte) { p.free <- b[:cap(b)] }

// send queues a filled buffer for hashing and writing.
func (p *pipeline) send(b []byte) { p.toHash <- segment{buf: b} }

// reset restarts the hash and the write offset after the buffers already
// sent.
func (p *pipeline) reset() { p.toHash <- segment{reset: true} }

// close waits for every sent buffer to be written, unmaps the buffers and
// returns the number of bytes written since the last reset, the digest
// and the first write error. Every buffer taken with buffer must have
// been sent or released before.
func (p *pipeline) close() (int64, []byte, error) {
	close(p.toHash)
	<-p.done
	for range p.allocated {
		select {
		case b := <-p.free:
			if err := freeBuffer(b); err != nil {
				p.log.Warn("image buffer not released", "error", err)
			}
		default:
			// A buffer still out is a bug of the caller; leaving it
			// mapped is safer than unmapping memory in use.
			p.log.Error("image buffer still in use when the pipeline closed")
		}
	}
	p.allocated = 0
	return p.size, p.h.Sum(nil), p.err
}

func (p *pipeline) hashLoop() {
	defer close(p.toWrite)
	for s := range p.toHash {
		if s.reset {
			p.h.Reset()
		} else {
			p.h.Write(s.buf)
		}
		p.toWrite <- s
	}
}

func (p *pipeline) writeLoop() {
	defer close(p.done)
	defer p.metrics.ImageRate(0) // no write in progress any more
	var off, moved, lastMoved, rateMoved int64
	start := time.Now()
	last, lastRate := start, start
	for s := range p.toWrite {
		if s.reset {
			off = 0
			continue
		}
		if p.err == nil {
			if _, err := p.dst.WriteAt(s.buf, off); err != nil {
				p.err = fmt.Errorf("write %d bytes at offset %d: %w", len(s.buf), off, err)
				p.cancel(p.err)
			}
		}
		off += int64(len(s.buf))
		moved += int64(len(s.buf))
		if p.err == nil {
			p.metrics.ImageWritten(int64(len(s.buf)))
		}
		p.free <- s.buf[:cap(s.buf)]
		now := time.Now()
		if d := now.Sub(lastRate); d >= rateEvery && p.err == nil {
			p.metrics.ImageRate(float64(moved-rateMoved) / d.Seconds())
			lastRate, rateMoved = now, moved
		}
		if now.Sub(last) >= progressEvery && p.err == nil {
			p.log.Info("writing image", "written_mib", off>>20,
				"rate_mib_s", mibPerSecond(moved-lastMoved, now.Sub(last)))
			last, lastMoved = now, moved
		}
	}
	p.size = off
}

// mibPerSecond is n bytes over d in MiB/s, rounded to 0.1.
func mibPerSecond(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	r := float64(n) / (1 << 20) / d.Seconds()
	return float64(int64(r*10+0.5)) / 10
}
