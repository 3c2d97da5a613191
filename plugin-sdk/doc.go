// Package sdk is everything a vendor needs to write a metalagent
// hardware-manager plugin.
//
// A plugin is an executable whose main is one call:
//
//	func main() { sdk.Serve(&myManager{}) }
//
// myManager implements HardwareManager: it reports a support level, the
// parts of IPA's inventory it knows, its clean, deploy and service steps, and
// executes steps and hardware methods by name. The metalagent host launches
// every plugin as a separate process (hashicorp/go-plugin over gRPC with
// mutual TLS), orders plugins by support level and dispatches each step to
// the highest plugin that implements it, falling through to the next one
// when a plugin answers ErrNotSupported, as ironic-python-agent does with
// IncompatibleHardwareMethodError.
//
// Plugins written in other languages implement the service in
// proto/v1/hwmanager.proto and go-plugin's handshake (see Handshake).
package sdk
