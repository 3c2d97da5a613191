package tlsconf

import (
	"crypto/tls"
	"fmt"
)

// cipherSuites are the TLS 1.2 suites the API accepts: ECDHE key exchange
// with an AEAD cipher only (TLS 1.3's suites are not configurable). Newer
// IPA's default list is the same idea (ECDHE with AES-GCM).
var cipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// ParseMinVersion turns newer IPA's tls_min_version ("1.2" or "1.3"; ""
// is 1.2) into a tls version number.
func ParseMinVersion(s string) (uint16, error) {
	switch s {
	case "", "1.2":
		return tls.VersionTLS12, nil
	case "1.3":
		return tls.VersionTLS13, nil
	}
	return 0, fmt.Errorf("TLS minimum version %q: want 1.2 or 1.3", s)
}

// ServerConfig is the API's TLS configuration: cert, at least minVersion
// (ParseMinVersion), AEAD ECDHE suites on TLS 1.2.
func ServerConfig(cert tls.Certificate, minVersion uint16) *tls.Config {
	if minVersion < tls.VersionTLS12 {
		minVersion = tls.VersionTLS12
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   minVersion,
		CipherSuites: cipherSuites,
	}
}
