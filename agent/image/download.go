package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/metalagent/metalagent/agent/ipa"
)

// fetcher issues the HTTP requests of one image write with IPA's timeout
// and retry rules.
type fetcher struct {
	client   *http.Client
	timeout  time.Duration
	retries  int
	interval time.Duration
	log      hclog.Logger
}

// statusError is a response other than the one asked for.
type statusError struct {
	code int
	url  string
	body string
}

// Error names the status and URL as IPA does.
func (e *statusError) Error() string {
	msg := fmt.Sprintf("Received status code %d from %s, expected 200", e.code, e.url)
	if e.body != "" {
		msg += ". Response body: " + e.body
	}
	return msg
}

// permanentError is a failure that retrying the same URL cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// stallError is a server that sent nothing for longer than the timeout.
type stallError struct{ timeout time.Duration }

func (e *stallError) Error() string {
	return fmt.Sprintf("Timed out reading next chunk from webserver (no data for %s)", e.timeout)
}

// retryable reports whether the same URL may be tried again after err:
// connection errors, stalls and 5xx answers may; 4xx (indeed any status
// below 500, as in IPA) and fatal errors may not.
func retryable(err error) bool {
	var pe *permanentError
	var se *statusError
	var ie *ipa.Error
	switch {
	case errors.As(err, &pe), errors.As(err, &ie):
		return false
	case errors.As(err, &se):
		return se.code >= 500
	}
	return true
}

// retry runs try until it succeeds, fails for good, or fails f.retries+1
// times in a row without progress; try reports whether it got further into
// the download than any attempt before it, which resets the count.
func (f *fetcher) retry(ctx context.Context, u string, try func(context.Context) (progressed bool, err error)) error {
	failures := 0
	for {
		progressed, err := try(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || !retryable(err) {
			return err
		}
		if progressed {
			failures = 0
		} else {
			failures++
		}
		if failures > f.retries {
			return err
		}
		f.log.Warn("download failed, retrying", "url", u, "error", err,
			"retry_in", f.interval, "retries_left", f.retries-failures)
		if err := sleep(ctx, f.interval); err != nil {
			return err
		}
	}
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// newRequest builds a GET for u; a URL that is not http(s) fails for good.
func newRequest(ctx context.Context, u string) (*http.Request, error) {
	pu, err := url.Parse(u)
	if err != nil {
		return nil, &permanentError{fmt.Errorf("invalid URL: %w", err)}
	}
	if pu.Scheme != "http" && pu.Scheme != "https" {
		return nil, &permanentError{fmt.Errorf("unsupported URL scheme %q in %s", pu.Scheme, u)}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, &permanentError{err}
	}
	// No transparent decompression: bytes are hashed and written as served.
	req.Header.Set("Accept-Encoding", "identity")
	return req, nil
}

// newStatusError describes resp, quoting the start of its body.
func newStatusError(resp *http.Response, u string) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	body := strings.Join(strings.Fields(string(b)), " ")
	return &statusError{code: resp.StatusCode, url: u, body: body}
}

// getSmall downloads u whole, refusing a body larger than limit.
func (f *fetcher) getSmall(ctx context.Context, u string, limit int64) ([]byte, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wd := newWatchdog(f.timeout, cancel)
	defer wd.stop()
	req, err := newRequest(ctx, u)
	if err != nil {
		return nil, err
	}
	resp, err := f.client.Do(req)
	wd.pause()
	if err != nil {
		return nil, wd.explain(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, newStatusError(resp, u)
	}
	b, err := io.ReadAll(io.LimitReader(watchedReader{resp.Body, wd}, limit+1))
	if err != nil {
		return nil, wd.explain(fmt.Errorf("read %s: %w", u, err))
	}
	if int64(len(b)) > limit {
		return nil, &permanentError{fmt.Errorf("%s is larger than %d bytes", u, limit)}
	}
	return b, nil
}

// watchdog cancels an exchange whose server keeps the agent waiting longer
// than the timeout, for headers or for the next piece of body. It runs
// only while the agent waits on the network, never while it waits for
// its own disk.
type watchdog struct {
	timer   *time.Timer
	timeout time.Duration
	fired   atomic.Bool
}

// newWatchdog returns a running watchdog that calls cancel on expiry.
func newWatchdog(timeout time.Duration, cancel context.CancelFunc) *watchdog {
	w := &watchdog{timeout: timeout}
	w.timer = time.AfterFunc(timeout, func() {
		w.fired.Store(true)
		cancel()
	})
	return w
}

func (w *watchdog) pause()  { w.timer.Stop() }
func (w *watchdog) resume() { w.timer.Reset(w.timeout) }
func (w *watchdog) stop()   { w.timer.Stop() }

// explain replaces the cancellation error the watchdog caused by a
// stallError.
func (w *watchdog) explain(err error) error {
	if err != nil && w.fired.Load() {
		return &stallError{timeout: w.timeout}
	}
	return err
}

// watchedReader runs a watchdog during each Read.
type watchedReader struct {
	r io.Reader
	w *watchdog
}

func (r watchedReader) Read(p []byte) (int, error) {
	r.w.resume()
	n, err := r.r.Read(p)
	r.w.pause()
	return n, err
}

// source is the download state of one URL.
type source struct {
	url       string
	size      int64  // image size from the server, -1 if unknown
	resumable bool   // the server advertised Accept-Ranges: bytes
	validator string // strong ETag or Last-Modified, sent as If-Range
	high      int64  // furthest offset reached from this URL
}

// downloader streams an image into a pipeline, trying its URLs in turn.
type downloader struct {
	f        *fetcher
	p        *pipeline
	id       string
	device   string
	noResume bool
	limit    int64 // capacity of the device, -1 if unbounded
	start    time.Time

	off      int64  // bytes received since the last reset: sent, then pending
	pending  []byte // a partly filled buffer, kept for the next attempt
	attempts int    // HTTP requests for the image
	resumed  bool   // a range request was answered
}

// run downloads the image from the first URL that works. When all fail
// the ImageDownloadError gives each URL's reason.
func (d *downloader) run(ctx context.Context, urls []string) error {
	var reasons []string
	for _, u := range urls {
		d.f.log.Info("downloading image", "url", u)
		err := d.fromURL(ctx, u)
		if err == nil {
			return nil
		}
		var fatal *ipa.Error
		if errors.As(err, &fatal) || ctx.Err() != nil {
			return err
		}
		d.f.log.Warn("image download failed", "url", u, "error", err)
		reasons = append(reasons, fmt.Sprintf("URL: %s; time: %.1f seconds. Error: %v",
			u, time.Since(d.start).Seconds(), err))
	}
	return newError(classDownload, nil, "Download of image %s failed: %s", d.id, strings.Join(reasons, "\n "))
}

// fromURL downloads the whole image from u, retrying and resuming.
func (d *downloader) fromURL(ctx context.Context, u string) error {
	d.restart()
	s := &source{url: u, size: -1}
	return d.f.retry(ctx, u, func(ctx context.Context) (bool, error) {
		before := s.high
		err := d.attempt(ctx, s)
		s.high = max(s.high, d.off)
		return s.high > before, err
	})
}

// restart discards what was received: the hash starts over and the
// device is written from offset zero again.
func (d *downloader) restart() {
	if sent := d.off - int64(len(d.pending)); sent > 0 {
		d.p.reset()
	}
	d.drop()
	d.off = 0
}

// drop gives a pending buffer back to the pipeline unsent and takes its
// bytes off off; the pipeline may only be closed after it.
func (d *downloader) drop() {
	if d.pending != nil {
		d.p.release(d.pending)
		d.off -= int64(len(d.pending))
		d.pending = nil
	}
}

// complete hands the pending buffer, the image's last bytes, to the
// pipeline.
func (d *downloader) complete() {
	if d.pending != nil {
		d.p.send(d.pending)
		d.pending = nil
	}
}

// attempt makes one request for the rest of the image and streams its body.
func (d *downloader) attempt(ctx context.Context, s *source) error {
	if s.size >= 0 && d.off == s.size {
		d.complete()
		return nil // every byte arrived before the connection broke
	}
	var from int64
	if d.off > 0 {
		if s.resumable && !d.noResume {
			from = d.off
		} else {
			d.f.log.Info("restarting image download from the beginning", "url", s.url, "had", d.off)
			d.restart()
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := newRequest(ctx, s.url)
	if err != nil {
		return err
	}
	if from > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", from))
		if s.validator != "" {
			req.Header.Set("If-Range", s.validator)
		}
	}
	d.attempts++
	wd := newWatchdog(d.f.timeout, cancel)
	defer wd.stop()
	resp, err := d.f.client.Do(req)
	wd.pause()
	if err != nil {
		return wd.explain(err)
	}
	defer resp.Body.Close()

	switch {
	case resp.StatusCode == http.StatusOK:
		if from > 0 {
			d.f.log.Warn("server ignored the range request, restarting from the beginning", "url", s.url, "offset", from)
			d.restart()
		}
		s.size = resp.ContentLength
		s.resumable = acceptsRanges(resp.Header)
		s.validator = validator(resp.Header)
		if d.limit >= 0 && s.size > d.limit {
			return newError(classWrite, nil, "Writing image to device %s failed: image %s is %d bytes, the device only %d",
				d.device, d.id, s.size, d.limit)
		}
	case from > 0 && resp.StatusCode == http.StatusPartialContent:
		start, size, err := parseContentRange(resp.Header.Get("Content-Range"))
		if err != nil || start != from {
			s.resumable = false
			return fmt.Errorf("server answered a range request from byte %d with Content-Range %q",
				from, resp.Header.Get("Content-Range"))
		}
		if size >= 0 {
			s.size = size
		}
		d.resumed = true
		d.f.log.Info("resuming image download", "url", s.url, "offset", from)
	case from > 0 && resp.StatusCode == http.StatusRequestedRangeNotSatisfiable:
		s.resumable = false
		return fmt.Errorf("server refused a range request from byte %d: %s", from, resp.Status)
	default:
		return newStatusError(resp, s.url)
	}

	if err := d.copyBody(ctx, watchedReader{resp.Body, wd}); err != nil {
		return wd.explain(fmt.Errorf("reading image from %s after %d bytes: %w", s.url, d.off, err))
	}
	if s.size >= 0 && d.off != s.size {
		return fmt.Errorf("image body from %s ended after %d of %d bytes", s.url, d.off, s.size)
	}
	d.complete()
	return nil
}

// copyBody fills pipeline buffers from r until EOF. Only full buffers are
// sent: a partly filled one, at the end of the body or when a read fails,
// stays pending, so that a resumed download goes on filling it and every
// write but the image's last stays whole and aligned.
func (d *downloader) copyBody(ctx context.Context, r io.Reader) error {
	for {
		buf := d.pending
		if buf == nil {
			b, err := d.p.buffer(ctx)
			if err != nil {
				return err
			}
			buf = b[:0]
		}
		n, err := fill(r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		d.off += int64(n)
		d.pending = nil
		switch {
		case len(buf) == cap(buf):
			d.p.send(buf)
		case len(buf) > 0:
			d.pending = buf
		default:
			d.p.release(buf)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// fill reads into buf until it is full or r fails; at the end of r it
// returns io.EOF with the bytes read so far.
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// acceptsRanges reports whether h advertises byte ranges.
func acceptsRanges(h http.Header) bool {
	for _, v := range h.Values("Accept-Ranges") {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), "bytes") {
				return true
			}
		}
	}
	return false
}

// validator returns what to send as If-Range so that a changed image is
// served whole rather than spliced: a strong ETag, else Last-Modified.
func validator(h http.Header) string {
	if et := h.Get("ETag"); et != "" && !strings.HasPrefix(et, "W/") {
		return et
	}
	return h.Get("Last-Modified")
}

// parseContentRange parses "bytes <first>-<last>/<size|*>"; size is -1
// when unknown.
func parseContentRange(v string) (first, size int64, err error) {
	spec, ok := strings.CutPrefix(strings.TrimSpace(v), "bytes ")
	if !ok {
		return 0, 0, fmt.Errorf("invalid Content-Range %q", v)
	}
	rng, total, ok := strings.Cut(spec, "/")
	if !ok {
		return 0, 0, fmt.Errorf("invalid Content-Range %q", v)
	}
	a, _, ok := strings.Cut(rng, "-")
	if !ok {
		return 0, 0, fmt.Errorf("invalid Content-Range %q", v)
	}
	if first, err = strconv.ParseInt(strings.TrimSpace(a), 10, 64); err != nil {
		return 0, 0, fmt.Errorf("invalid Content-Range %q: %w", v, err)
	}
	size = -1
	if total = strings.TrimSpace(total); total != "*" {
		if size, err = strconv.ParseInt(total, 10, 64); err != nil {
			return 0, 0, fmt.Errorf("invalid Content-Range %q: %w", v, err)
		}
	}
	return first, size, nil
}
