//go:build bench

package bench

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// figure prints one FIGURE line: a name, then key=value pairs, in the
// order given. make bench and docs/benchmarks.md read these lines.
func figure(name string, kv ...any) {
	var b strings.Builder
	b.WriteString("FIGURE ")
	b.WriteString(name)
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&b, " %v=%v", kv[i], kv[i+1])
	}
	fmt.Println(b.String())
}

// ms formats d in milliseconds with two decimals.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}

// median returns the middle of ds (the upper middle for an even count),
// 0 for none.
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// quietly runs f with os.Stderr pointing at /dev/null, so that loggers
// made inside f (the generic manager's, which captures os.Stderr when it
// is made) write there: their cost stays in the figures, their lines stay
// out of the benchmark's output.
func quietly(tb testing.TB, f func()) {
	tb.Helper()
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { null.Close() })
	saved := os.Stderr
	os.Stderr = null
	defer func() { os.Stderr = saved }()
	f()
}

// loadAvg returns the machine's load average over the last minute, as
// /proc/loadavg gives it, or "n/a": with other work on the machine,
// wall-clock figures are upper bounds.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "n/a"
	}
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return "n/a"
}
