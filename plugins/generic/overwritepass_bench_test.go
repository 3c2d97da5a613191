package generic

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/metalagent/metalagent/plugin-sdk/sdktest/loopdev"
)

// BenchmarkPassWriteSize measures a zero and a random pass over a 256 MiB
// loop device with the loop driver's direct I/O, at each write size
// considered for zeroChunk and randomChunk, beside dd if=/dev/zero bs=4M oflag=direct
// on the same device in the same iterations (dd first in odd iterations,
// the pass first in even ones). It reports the pass's and dd's MB/s over
// all iterations and the median of the iterations' ratios (pass to dd),
// which the machine's other load disturbs less. It is how the two sizes
// were chosen (docs/benchmarks.md); run it as root with
// go test -run '^$' -bench PassWriteSize -benchtime 10x ./plugins/generic/.
func BenchmarkPassWriteSize(b *testing.B) {
	loopdev.Require(b)
	if _, err := exec.LookPath("dd"); err != nil {
		b.Skip("needs dd")
	}
	const size = 256 * mib
	dev := loopdev.Attach(b, loopdev.NewFile(b, size, pattern), false)
	if out, err := exec.Command("losetup", "--direct-io=on", dev).CombinedOutput(); err != nil {
		b.Logf("losetup --direct-io=on %s: %v: %s (measuring without)", dev, err, out)
	}
	dd := func() (time.Duration, error) {
		start := time.Now()
		out, err := exec.Command("dd", "if=/dev/zero", "of="+dev, "bs=4M", "oflag=direct", fmt.Sprintf("count=%d", size/(4*mib))).CombinedOutput()
		if err != nil {
			return 0, fmt.Errorf("dd: %v: %s", err, out)
		}
		return time.Since(start), nil
	}
	for _, chunk := range []int64{1 * mib, 2 * mib, 4 * mib, 8 * mib, 16 * mib} {
		for _, kind := range []string{"zero", "random"} {
			b.Run(fmt.Sprintf("%dMiB/%s", chunk/mib, kind), func(b *testing.B) {
				var passTotal, ddTotal time.Duration
				var ratios []float64
				for i := 0; b.Loop(); i++ {
					var p, d time.Duration
					var err error
					if i%2 == 0 {
						if d, err = dd(); err == nil {
							p, err = timePass(dev, chunk, kind == "random")
						}
					} else if p, err = timePass(dev, chunk, kind == "random"); err == nil {
						d, err = dd()
					}
					if err != nil {
						b.Fatal(err)
					}
					passTotal += p
					ddTotal += d
					ratios = append(ratios, d.Seconds()/p.Seconds())
				}
				slices.Sort(ratios)
				b.ReportMetric(float64(size*b.N)/passTotal.Seconds()/1e6, "MB/s")
				b.ReportMetric(float64(size*b.N)/ddTotal.Seconds()/1e6, "MB/s-dd")
				b.ReportMetric(ratios[len(ratios)/2], "median-ratio")
			})
		}
	}
}

// timePass opens dev and times one pass over it with writes of chunk
// bytes and its fsync, as an overwrite of one pass runs it (a random one
// with buffers of its own).
func timePass(dev string, chunk int64, random bool) (time.Duration, error) {
	start := time.Now()
	d, err := openDevice(openForWrite, dev)
	if err != nil {
		return 0, err
	}
	defer d.Close()
	if random {
		bufs, err := newRandomBuffers(chunk)
		if err != nil {
			return 0, err
		}
		defer bufs.Close()
		ks, err := newKeystream()
		if err != nil {
			return 0, err
		}
		if err := d.randomPass(context.Background(), bufs, ks, nil); err != nil {
			return 0, err
		}
	} else if err := d.zeroPass(context.Background(), chunk, nil); err != nil {
		return 0, err
	}
	if err := d.sync(); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}
