// Package bench holds the benchmarks behind docs/benchmarks.md (build tag
// "bench"; run them with `make bench`): start-up of the built agent,
// plugin launch and dispatch, idle memory, the generic manager's inventory
// cold and warm beside a shell-out baseline, and its erase_devices_metadata
// and overwrite passes on loop devices beside dd. Each prints its figures
// as FIGURE lines with the target beside them; none fails on a time.
package bench
