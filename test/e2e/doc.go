// Package e2e is metalagent's end-to-end test rig: it runs Debian's real
// Ironic (2023.1, 21.4.x) as a child process on 127.0.0.1, enrols a
// fake-hardware node whose disk is a loop device, and drives manual
// cleaning (erase_devices, a step nobody offers, and optionally
// erase_devices_express with erase_pstore), automated cleaning, two
// deployments of bad images that must fail cleanly, recovery, a
// whole-disk deployment and an undeploy through bin/metalagent, starting
// a fresh agent process, in a private mount namespace with a canary
// pstore, for every simulated boot of the node.
//
// The test itself is behind the "e2e" build tag and needs root:
//
//	sudo test/e2e/install.sh
//	make build
//	go test -tags e2e -v -count=1 -timeout 40m ./test/e2e/
//
// See README.md in this directory for what each phase checks.
package e2e
