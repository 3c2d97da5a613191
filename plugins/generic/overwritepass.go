package generic

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	crand "crypto/rand"
	"fmt"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"
)

// fillBuffers is how many buffers of one write each a random pass fills:
// one is written while the other is filled, which bounds the memory to
// two writes. Two suffice as long as filling a buffer (several GB/s of
// keystream) takes less time than writing one.
const fillBuffers = 2

// fillPiece is how much keystream is made at a time: the filling
// goroutine checks its context and yields the processor between pieces.
const fillPiece = mib

// keystreamKeyBytes is the AES key length: AES-128, whose 10 rounds cost
// about three quarters of AES-256's 14 in processor time, and whose
// strength is far beyond what unpredictable overwrite data needs.
const keystreamKeyBytes = 16

// keystreamZeros is the length of the zeros a keystream is XORed onto:
// small enough to stay in the processor's cache.
const keystreamZeros = 64 << 10

// keystream is the data of a random pass: the AES-128 keystream in
// counter mode (crypto/aes and crypto/cipher, with the processor's AES
// instructions where it has them) under a key and initial counter drawn
// from crypto/rand for this pass alone and never kept.
//
// A random pass, like shred's (GNU shred's data comes from the ISAAC
// generator, seeded once from the system), only needs data nobody can
// predict or compress, so that what the disk held is replaced and the
// new contents give no handle on it; it needs no statistical perfection
// and no secrecy beyond the pass. AES-CTR under a random key is a
// pseudo-random function of the counter, indistinguishable from random
// data without the key (it is the core of NIST SP 800-90A's CTR_DRBG),
// and its 128-bit counter does not come back to a value within 2^64
// bytes, so no two blocks of a pass repeat. It also fills buffers several
// times faster than math/rand/v2's ChaCha8, which limited the pass.
type keystream struct {
	stream cipher.Stream
	zeros  []byte
}

// newKeystream returns the keystream of a new random pass.
func newKeystream() (*keystream, error) {
	var key [keystreamKeyBytes]byte
	var iv [aes.BlockSize]byte
	if _, err := crand.Read(key[:]); err != nil {
		return nil, fmt.Errorf("random pass key: %w", err)
	}
	if _, err := crand.Read(iv[:]); err != nil {
		return nil, fmt.Errorf("random pass counter: %w", err)
	}
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, fmt.Errorf("random pass cipher: %w", err)
	}
	return &keystream{stream: cipher.NewCTR(block, iv[:]), zeros: make([]byte, keystreamZeros)}, nil
}

// fill overwrites b with the next len(b) bytes of the keystream, in
// pieces of fillPiece. Between pieces it returns ctx's error when ctx is
// done and otherwise yields the processor: the agent runs plugins with
// GOMAXPROCS=1, and a write returning from the kernel waits for the
// processor the filling goroutine holds.
func (k *keystream) fill(ctx context.Context, b []byte) error {
	for p := 0; p < len(b); p += fillPiece {
		if p > 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			runtime.Gosched()
		}
		piece := b[p:min(p+fillPiece, len(b))]
		for z := 0; z < len(piece); z += len(k.zeros) {
			n := min(len(k.zeros), len(piece)-z)
			k.stream.XORKeyStream(piece[z:z+n], k.zeros[:n])
		}
	}
	return nil
}

// randomBuffers are the aligned buffers random passes are filled into,
// fillBuffers of one write each, in huge pages where the kernel gives
// them (see mapHuge). The passes of one overwrite share them, so that
// their pages are faulted in once.
type randomBuffers struct {
	mem, mapping []byte
	chunk        int64
}

// newRandomBuffers allocates buffers for random passes writing chunk
// bytes at a time (at most maxPassChunk).
func newRandomBuffers(chunk int64) (*randomBuffers, error) {
	if chunk <= 0 || chunk > maxPassChunk {
		return nil, fmt.Errorf("write size %d: want 1 to %d bytes", chunk, int64(maxPassChunk))
	}
	mem, mapping, err := mapHuge(fillBuffers*int(chunk), unix.PROT_READ|unix.PROT_WRITE)
	if err != nil {
		return nil, fmt.Errorf("random pass buffers: %w", err)
	}
	return &randomBuffers{mem: mem, mapping: mapping, chunk: chunk}, nil
}

// Close releases the buffers.
func (r *randomBuffers) Close() {
	if r.mapping != nil {
		unix.Munmap(r.mapping)
		r.mem, r.mapping = nil, nil
	}
}

// filledChunk is a buffer of keystream to write at off.
type filledChunk struct {
	b   []byte
	off int64
}

// randomPass writes ks's keystream over the whole device in sequential
// writes of bufs.chunk bytes. A goroutine fills the next buffer while the
// current one is written. progress, when not nil, is told the bytes
// written after each write. ctx is checked between writes (and between
// pieces of keystream): a cancelled pass stops after the write in flight
// and returns ctx's error, once the filling goroutine has stopped. A
// failed write is returned with its offset.
func (d *device) randomPass(ctx context.Context, bufs *randomBuffers, ks *keystream, progress func(written int64)) error {
	chunk := bufs.chunk
	if chunk%d.sector != 0 {
		return fmt.Errorf("write size %d is not a multiple of the %d-byte block", chunk, d.sector)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	free := make(chan []byte, fillBuffers)
	for i := range int64(fillBuffers) {
		free <- bufs.mem[i*chunk : (i+1)*chunk : (i+1)*chunk]
	}
	full := make(chan filledChunk, fillBuffers)
	fillCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		stop()
		wg.Wait() // the filler has let go of the buffers
	}()
	wg.Go(func() {
		defer close(full)
		for off := int64(0); off < d.size; off += chunk {
			var b []byte
			select {
			case b = <-free:
			case <-fillCtx.Done():
				return
			}
			b = b[:min(chunk, d.size-off)]
			if ks.fill(fillCtx, b) != nil {
				return
			}
			select {
			case full <- filledChunk{b, off}:
			case <-fillCtx.Done():
				return
			}
		}
	})
	var written int64
	for c := range full {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := d.f.WriteAt(c.b, c.off); err != nil {
			return fmt.Errorf("write %d bytes at offset %d: %w", len(c.b), c.off, err)
		}
		written += int64(len(c.b))
		if progress != nil {
			progress(written)
		}
		free <- c.b[:cap(c.b)]
	}
	if written < d.size {
		// The filler stops early only when ctx is done.
		if err := ctx.Err(); err != nil {
			return err
		}
		return fmt.Errorf("random data stopped after %d of %d bytes", written, d.size)
	}
	return nil
}

// zeroPass writes zeros over the whole device in sequential writes of
// chunk bytes (a multiple of the logical block size, at most
// maxPassChunk), every one from the same shared zero pages. progress,
// when not nil, is told the bytes written after each write; ctx is
// checked between writes. A failed write is returned with its offset.
func (d *device) zeroPass(ctx context.Context, chunk int64, progress func(written int64)) error {
	if chunk <= 0 || chunk%d.sector != 0 || chunk > maxPassChunk {
		return fmt.Errorf("write size %d: want a multiple of the %d-byte block up to %d bytes", chunk, d.sector, int64(maxPassChunk))
	}
	zero, err := zeroPages()
	if err != nil {
		return err
	}
	for off := int64(0); off < d.size; {
		if err := ctx.Err(); err != nil {
			return err
		}
		c := min(chunk, d.size-off)
		if _, err := d.f.WriteAt(zero[:c], off); err != nil {
			return fmt.Errorf("write %d bytes at offset %d: %w", c, off, err)
		}
		off += c
		if progress != nil {
			progress(off)
		}
	}
	return nil
}
