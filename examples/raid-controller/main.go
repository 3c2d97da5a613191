// Command raid-controller is an example vendor hardware-manager plugin for
// metalagent: a simulated hardware RAID controller whose physical and
// logical disks live in a JSON file. It offers IPA's RAID steps
// (delete_configuration, create_configuration, apply_configuration) with
// the arguments and results IPA's generic manager has, and adds the
// controller's logical disks to the inventory. See README.md.
//
// It imports only the SDK, as a vendor's plugin would.
package main

import sdk "github.com/metalagent/metalagent/plugin-sdk"

func main() { sdk.Serve(newManager()) }
