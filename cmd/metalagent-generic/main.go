// Command metalagent-generic is the generic hardware-manager plugin of
// metalagent: the metalagent host starts it and talks to it over
// go-plugin's gRPC protocol. It is not meant to be run by hand.
package main

import (
	"github.com/metalagent/metalagent/plugins/generic"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

func main() { sdk.Serve(generic.New()) }
