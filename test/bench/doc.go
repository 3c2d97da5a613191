// Package bench holds the start-up benchmarks of the built agent binary
// (build tag "bench"; run them with `make bench`).
package bench
