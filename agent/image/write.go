package image

import (
	"context"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/metalagent/metalagent/agent/metrics"
	"github.com/metalagent/metalagent/plugin-sdk/blockdev"
)

// Result describes a written and verified image.
type Result struct {
	// Bytes is the size of the image.
	Bytes int64
	// Algorithm is the hash algorithm the image was verified with.
	Algorithm string
	// Digest is the image's lowercase hex digest.
	Digest string
	// Duration is the time from the call to the end of the final fsync.
	Duration time.Duration
	// Attempts is the number of HTTP requests made for the image itself.
	Attempts int
}

// Write downloads the image described by info and writes it, byte for
// byte, to device, hashing it on the way, then fsyncs the device and
// checks the digest. device is a block device, which must not be in use
// (mounted, swap, or held), or a regular file (for tests). Nothing is
// written before the device has been checked and the expected checksum
// is known. Errors are *ipa.Error of class InvalidCommandParamsError,
// ImageDownloadError, ImageChecksumError or ImageWriteError; when ctx
// ends, the error's chain holds ctx.Err().
func Write(ctx context.Context, info Info, device string, opts Options) (*Result, error) {
	opts = opts.withDefaults()
	log := opts.Logger.With("image", info.ID, "device", device)
	res, err := write(ctx, info, device, opts, log)
	if err != nil {
		log.Error("image write failed", "error", err)
		return nil, err
	}
	log.Info("image written", "bytes", res.Bytes, "mib", res.Bytes>>20,
		"seconds", res.Duration.Round(time.Millisecond).Seconds(),
		"rate_mib_s", mibPerSecond(res.Bytes, res.Duration),
		"algorithm", res.Algorithm, "digest", res.Digest, "attempts", res.Attempts)
	return res, nil
}

// write is Write without the final log line.
func write(ctx context.Context, info Info, device string, opts Options, log hclog.Logger) (*Result, error) {
	start := time.Now()
	if err := info.Validate(); err != nil {
		return nil, err
	}

	block, err := checkDevice(device)
	if err != nil {
		return nil, err
	}

	client, release := opts.httpClient(info)
	defer release()
	f := &fetcher{client: client, timeout: opts.ConnectTimeout, retries: opts.Retries,
		interval: opts.RetryInterval, log: log}

	if algo := strings.ToLower(strings.TrimSpace(info.OSHashAlgo)); algo != "" {
		if _, ok := algorithms[algo]; !ok {
			log.Warn("os_hash_algo not supported, falling back to the checksum field", "os_hash_algo", info.OSHashAlgo)
		}
	}
	sum, err := resolveChecksum(ctx, f, info, opts.AllowMD5)
	if err != nil {
		return nil, err
	}

	dev, capacity, direct, err := openDevice(opts, device, block, log)
	if err != nil {
		return nil, err
	}
	defer dev.Close()

	res, err := stream(ctx, f, info, device, newDeviceWriter(dev, direct, log), capacity, sum, log, opts.Metrics)
	if err != nil {
		return nil, err
	}
	if err := finish(dev, res.Bytes, block); err != nil {
		return nil, newError(classWrite, err, "Writing image to device %s failed: %v", device, err)
	}
	res.Duration = time.Since(start)
	return res, nil
}

// stream downloads, hashes and writes the image and verifies its digest.
// A mismatch after a resumed download is retried once without resuming,
// since splicing is the one way the engine itself could corrupt an image.
func stream(ctx context.Context, f *fetcher, info Info, device string, dev io.WriterAt, capacity int64,
	sum checksum, log hclog.Logger, m *metrics.Metrics) (*Result, error) {
	attempts := 0
	for pass := 1; ; pass++ {
		pctx, cancel := context.WithCancelCause(ctx)
		p := newPipeline(dev, sum.algo.new(), cancel, log, m)
		d := &downloader{f: f, p: p, id: info.ID, device: device, noResume: pass > 1, limit: capacity, start: time.Now()}
		dlErr := d.run(pctx, info.URLs)
		d.drop() // left only by a failed download
		size, digest, wErr := p.close()
		cancel(nil)
		attempts += d.attempts

		switch {
		case wErr != nil:
			return nil, newError(classWrite, wErr, "Writing image to device %s failed: %v", device, wErr)
		case ctx.Err() != nil:
			return nil, cancelled(ctx, "Download of image %s", info.ID)
		case dlErr != nil:
			return nil, dlErr
		}
		actual := hex.EncodeToString(digest)
		if actual == sum.expected {
			return &Result{Bytes: size, Algorithm: sum.algo.name, Digest: actual, Attempts: attempts}, nil
		}
		if d.resumed && pass == 1 {
			log.Warn("checksum mismatch after a resumed download, downloading the whole image again",
				"algorithm", sum.algo.name, "expected", sum.expected, "actual", actual)
			continue
		}
		return nil, newError(classChecksum, nil,
			"Image failed to verify against checksum. image ID: %s; device: %s; algorithm: %s; "+
				"image checksum: %s; verification checksum: %s; bytes: %d",
			info.ID, device, sum.algo.name, sum.expected, actual, size)
	}
}

// checkDevice accepts a block device that is not in use, or a regular
// file; it reports which it is.
func checkDevice(device string) (block bool, err error) {
	fi, err := os.Stat(device)
	if err != nil {
		return false, newError(classWrite, err, "Writing image to device %s failed: %v", device, err)
	}
	switch m := fi.Mode(); {
	case m&os.ModeDevice != 0 && m&os.ModeCharDevice == 0:
		if err := (blockdev.Checker{}).CheckNotInUse(device); err != nil {
			return true, newError(classWrite, err, "Writing image to device %s failed: %v", device, err)
		}
		return true, nil
	case m.IsRegular():
		return false, nil
	default:
		return false, newError(classWrite, nil,
			"Writing image to device %s failed: not a block device or regular file (mode %s)", device, m)
	}
}

// openDevice opens device for writing and returns its capacity (-1 for a
// regular file, which grows) and whether it is open for direct I/O. A
// block device is opened with O_EXCL, so the kernel refuses it while
// another exclusive holder has it (a file system mounted on it since the
// check, device-mapper, md), and with O_DIRECT, or without it when the
// kernel refuses that (EINVAL). A regular file is written through the page
// cache.
func openDevice(opts Options, device string, block bool, log hclog.Logger) (*os.File, int64, bool, error) {
	flag := os.O_WRONLY | syscall.O_CLOEXEC
	if block {
		flag |= os.O_EXCL
	}
	direct := block
	dev, err := opts.open(device, directFlag(flag, direct), 0)
	if direct && errors.Is(err, syscall.EINVAL) {
		log.Info("the device refused direct I/O, writing through the page cache", "error", err)
		direct = false
		dev, err = opts.open(device, flag, 0)
	}
	if err != nil {
		if errors.Is(err, syscall.EBUSY) {
			return nil, 0, false, newError(classWrite, err,
				"Writing image to device %s failed: the device is busy (mounted or held by the kernel)", device)
		}
		return nil, 0, false, newError(classWrite, err, "Writing image to device %s failed: %v", device, err)
	}
	if !block {
		return dev, -1, false, nil
	}
	size, err := dev.Seek(0, io.SeekEnd)
	if err != nil {
		dev.Close()
		return nil, 0, false, newError(classWrite, err, "Writing image to device %s failed: size: %v", device, err)
	}
	return dev, size, direct, nil
}

// directFlag adds O_DIRECT to flag when direct is set.
func directFlag(flag int, direct bool) int {
	if direct {
		return flag | syscall.O_DIRECT
	}
	return flag
}

// finish cuts a regular file to the image size, then flushes the device
// and closes it.
func finish(dev *os.File, size int64, block bool) error {
	if !block {
		if err := dev.Truncate(size); err != nil {
			return err
		}
	}
	if err := dev.Sync(); err != nil {
		return err
	}
	return dev.Close()
}
