package sdk

import (
	"os"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// ProtocolVersion is the hardware-manager protocol this SDK speaks
// (proto/v1). The host negotiates it through go-plugin's VersionedPlugins.
const ProtocolVersion = 1

// PluginName is the name under which a plugin serves its hardware manager.
const PluginName = "hwmanager"

// Handshake is the go-plugin handshake every metalagent plugin uses. The
// magic cookie only keeps a plugin from being run by hand by mistake; it is
// not a security measure (the host checks each binary's sha256).
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "METALAGENT_PLUGIN",
	MagicCookieValue: "hardware-manager",
}

// Logger returns the logger a plugin should use: JSON lines on stderr, which
// the host re-emits in its own log under the plugin's name.
func Logger(name string) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:       name,
		Level:      hclog.Debug,
		Output:     os.Stderr,
		JSONFormat: true,
	})
}

// Serve serves m as a plugin to the metalagent host and does not return.
// Call it from main and do nothing after it; write nothing to stdout before
// it, since stdout carries go-plugin's handshake.
func Serve(m HardwareManager) {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{
			ProtocolVersion: {PluginName: &GRPCPlugin{Impl: m}},
		},
		GRPCServer:  newGRPCServer,
		TLSProvider: serverTLS,
		Logger:      Logger("plugin"),
	})
}

// newGRPCServer is go-plugin's default server with fixed flow-control windows,
// which turn off gRPC's bandwidth probing: its pings add a round trip to
// the small calls the host makes.
func newGRPCServer(opts []grpc.ServerOption) *grpc.Server {
	opts = append(opts, grpc.InitialWindowSize(4<<20), grpc.InitialConnWindowSize(4<<20))
	return plugin.DefaultGRPCServer(opts)
}
