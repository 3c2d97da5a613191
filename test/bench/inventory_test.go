//go:build bench

package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
	"github.com/metalagent/metalagent/plugins/generic"
)

// childEnv names the environment variable that makes the test binary run
// one inventory child (see inventoryChild) instead of its tests.
const childEnv = "METALAGENT_BENCH_CHILD"

// warmCalls is how many inventories the child runs after the first; the
// warm figure is the second call, the steady one their median.
const warmCalls = 9

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "inventory" {
		if err := inventoryChild(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// childTimes is what an inventory child reports on stdout.
type childTimes struct {
	// Cold is the first inventory of the process, Warm the second,
	// Steady the median of the calls after the first.
	Cold, Warm, Steady time.Duration
}

// inventoryChild times the generic manager's inventories in a process of
// their own, as the plugin runs them: the first (cold) and those after it
// (warm), with LLDP off, GOMAXPROCS as the agent sets it, no disk allow-list and the manager's logs going to
// the child's stderr (discarded by the parent).
func inventoryChild() error {
	ctx := context.Background()
	m := generic.New()
	if _, err := m.EvaluateHardwareSupport(ctx, sdk.HostConfig{}); err != nil {
		return fmt.Errorf("evaluate hardware support: %w", err)
	}
	var calls []time.Duration
	for range 1 + warmCalls {
		start := time.Now()
		inv, err := m.Inventory(ctx)
		if err != nil {
			return fmt.Errorf("inventory: %w", err)
		}
		calls = append(calls, time.Since(start))
		if inv.CPU == nil || len(inv.Interfaces) == 0 {
			return errors.New("inventory without cpu or interfaces")
		}
	}
	return json.NewEncoder(os.Stdout).Encode(childTimes{Cold: calls[0], Warm: calls[1], Steady: median(calls[1:])})
}

// lsblkArgs is IPA's lsblk call for its disk list.
var lsblkArgs = []string{"-bia", "--json", "-oKNAME,MODEL,SIZE,ROTA,TYPE,UUID,PARTUUID,SERIAL"}

// timeCommand runs argv and returns its wall time and exit error.
func timeCommand(argv ...string) (time.Duration, error) {
	start := time.Now()
	err := exec.Command(argv[0], argv[1:]...).Run()
	return time.Since(start), err
}

// BenchmarkInventory measures the generic manager's full inventory on this
// machine (LLDP off), cold (the first call of a fresh process) and warm
// (the second call, and the median of the following ones), beside a
// shell-out baseline run in the same iterations: IPA's lsblk call followed
// by dmidecode, the two commands IPA runs for disks and for the system and
// memory (IPA also runs lshw, lscpu and more).
func BenchmarkInventory(b *testing.B) {
	lsblk, err := exec.LookPath("lsblk")
	if err != nil {
		b.Skip("needs lsblk (util-linux) for the baseline")
	}
	dmidecode, dmiErr := exec.LookPath("dmidecode")
	var cold, warm, steady, lsblkT, dmiT []time.Duration
	var dmiExit error
	for b.Loop() {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		// The agent runs its plugins with GOMAXPROCS=1 by default.
		cmd.Env = append(os.Environ(), childEnv+"=inventory", fmt.Sprintf("GOMAXPROCS=%d", agentGOMAXPROCS))
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("inventory child: %v", err)
		}
		var t childTimes
		if err := json.Unmarshal(out, &t); err != nil {
			b.Fatalf("inventory child said %q: %v", out, err)
		}
		cold, warm, steady = append(cold, t.Cold), append(warm, t.Warm), append(steady, t.Steady)

		d, err := timeCommand(append([]string{lsblk}, lsblkArgs...)...)
		if err != nil {
			b.Fatalf("lsblk: %v", err)
		}
		lsblkT = append(lsblkT, d)
		if dmiErr == nil {
			// dmidecode fails on a machine without SMBIOS; its time counts.
			d, dmiExit = timeCommand(dmidecode)
			dmiT = append(dmiT, d)
		}
	}
	b.ReportMetric(float64(median(cold))/1e6, "ms-cold")
	b.ReportMetric(float64(median(warm))/1e6, "ms-warm")

	dmi := "n/a(not-installed)"
	baseline := median(lsblkT)
	if dmiErr == nil {
		dmi = ms(median(dmiT))
		if dmiExit != nil {
			dmi += fmt.Sprintf("(%v)", dmiExit)
		}
		baseline = median(lsblkT) + median(dmiT)
	}
	figure("inventory",
		"cold", ms(median(cold)), "cold_max", ms(slicesMax(cold)), "target_cold", "<=50ms",
		"warm", ms(median(warm)), "warm_max", ms(slicesMax(warm)), "warm_steady", ms(median(steady)), "target_warm", "<=5ms",
		"baseline_lsblk", ms(median(lsblkT)), "baseline_dmidecode", dmi, "baseline_total", ms(baseline),
		"ipa_recorded", "3.9s_cold/4.1s_warm(poll.get_hardware_info,ipa-baseline.md)",
		"runs", len(cold), "load", loadAvg())
}

// slicesMax returns the largest of ds, 0 for none.
func slicesMax(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}
