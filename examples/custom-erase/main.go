// Command custom-erase is an example vendor hardware-manager plugin for
// metalagent. It erases the disks of one model (or listed by name) its own
// way and leaves every other disk, and every other method, to the
// managers below it: the host's erase_devices clean step dispatches
// erase_block_device once per disk, and this plugin answers NotSupported
// for the disks it does not manage, so they fall through to the generic
// plugin. See README.md.
//
// It imports only the SDK, as a vendor's plugin would.
package main

import sdk "github.com/metalagent/metalagent/plugin-sdk"

func main() { sdk.Serve(newManager()) }
