package image

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/net/http/httpproxy"

	"github.com/metalagent/metalagent/agent/metrics"
)

// IPA's defaults for the image download knobs (ipa-image-download-connection-*).
const (
	DefaultConnectTimeout = 60 * time.Second
	DefaultRetries        = 9
	DefaultRetryInterval  = 10 * time.Second
)

// Options tune an image download.
type Options struct {
	// ConnectTimeout bounds connecting, waiting for response headers and
	// each wait for body data (ipa-image-download-connection-timeout).
	// Zero means DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// Retries is how many more times a URL is tried after a connection
	// error, a 5xx answer or a cut download that made no new progress
	// (ipa-image-download-connection-retries). Negative means zero.
	Retries int
	// RetryInterval is the pause before each retry
	// (ipa-image-download-connection-retry-interval).
	RetryInterval time.Duration
	// Insecure skips TLS certificate verification (ipa-insecure).
	Insecure bool
	// AllowMD5 permits verifying an image with MD5: the legacy checksum
	// field, or os_hash_algo "md5".
	AllowMD5 bool
	// Logger receives progress and retry messages; nil discards them.
	Logger hclog.Logger
	// Metrics counts the bytes written and tracks the write rate; nil
	// records nothing.
	Metrics *metrics.Metrics
	// HTTPClient, when set, is used as is for every request: its timeouts,
	// TLS settings and proxies are the caller's, and Insecure and the
	// image's proxies are ignored. Body stalls are still bounded by
	// ConnectTimeout.
	HTTPClient *http.Client

	// open opens the target device; tests replace it.
	open func(name string, flag int, perm os.FileMode) (*os.File, error)
}

// DefaultOptions returns IPA's defaults: 60 s connection timeout, 9 retries
// 10 s apart, TLS verified. MD5 is allowed, as in IPA 9.4, because Ironic
// 21.4 passes an MD5 in image_checksum for images without os_hash_*.
func DefaultOptions() Options {
	return Options{
		ConnectTimeout: DefaultConnectTimeout,
		Retries:        DefaultRetries,
		RetryInterval:  DefaultRetryInterval,
		AllowMD5:       true,
	}
}

// withDefaults fills in zero values.
func (o Options) withDefaults() Options {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.Retries < 0 {
		o.Retries = 0
	}
	if o.RetryInterval < 0 {
		o.RetryInterval = 0
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	if o.open == nil {
		o.open = os.OpenFile
	}
	return o
}

// httpClient returns the client for info's downloads and a function that
// releases it.
func (o Options) httpClient(info Info) (*http.Client, func()) {
	if o.HTTPClient != nil {
		return o.HTTPClient, func() {}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: o.ConnectTimeout, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = o.ConnectTimeout
	tr.ResponseHeaderTimeout = o.ConnectTimeout
	// Images are fetched byte for byte: transparent gzip decoding would
	// break Range requests and the checksum.
	tr.DisableCompression = true
	tr.Proxy = proxyFunc(info)
	if o.Insecure {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // ipa-insecure asks for it.
	}
	return &http.Client{Transport: tr}, tr.CloseIdleConnections
}

// proxyFunc returns the proxy selection for info: its proxies and no_proxy
// override the environment's, as IPA passes them to requests.
func proxyFunc(info Info) func(*http.Request) (*url.URL, error) {
	if len(info.Proxies) == 0 && info.NoProxy == "" {
		return http.ProxyFromEnvironment
	}
	cfg := httpproxy.FromEnvironment()
	if p := info.Proxies["http"]; p != "" {
		cfg.HTTPProxy = p
	}
	if p := info.Proxies["https"]; p != "" {
		cfg.HTTPSProxy = p
	}
	if info.NoProxy != "" {
		cfg.NoProxy = info.NoProxy
	}
	f := cfg.ProxyFunc()
	return func(r *http.Request) (*url.URL, error) { return f(r.URL) }
}
