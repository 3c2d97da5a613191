// Package tool runs the external programs a hardware manager needs (nvme,
// hdparm, smartctl, ipmitool, qemu-img, ...) in one way, so that every
// plugin reports a missing program and a failed run alike.
//
// A manager keeps a Runner and calls it for every program it runs:
//
//	out, err := r.Run(ctx, "nvme", "id-ctrl", "/dev/nvme0n1", "-o", "json")
//	switch {
//	case errors.Is(err, tool.ErrMissing):
//		// nvme is not installed in the ramdisk
//	case err != nil:
//		var ee *tool.ExitError // exit code and stderr
//	}
//
// Exec is the Runner of the running machine. Tests give the manager the
// replaying Runner of package tooltest instead, with outputs recorded on
// real hardware, and check the exact command lines it ran.
package tool
