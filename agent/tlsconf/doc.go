// Package tlsconf builds the TLS settings of the agent API: the
// self-signed certificate of IPA's auto-TLS (generated once per agent run
// and sent to Ironic as agent_verify_ca), the operator's static
// certificate and key files, and the server's tls.Config (TLS 1.2 at
// least, ECDHE with AEAD ciphers only).
package tlsconf
