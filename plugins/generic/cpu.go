package generic

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// cpu builds IPA's CPU from /proc/cpuinfo and /sys/devices/system/cpu, the
// sources lscpu reads.
func (s system) cpu() (*sdk.CPU, error) {
	info, err := s.cpuinfo()
	if err != nil {
		return nil, err
	}
	arch, err := s.machine()
	if err != nil {
		return nil, err
	}
	c := &sdk.CPU{
		ModelName:    info.modelName,
		Architecture: arch,
		Flags:        info.flags,
		Frequency:    s.cpuFrequency(),
		Count:        s.cpuCount(info.processors),
	}
	if c.Flags == nil {
		c.Flags = []string{}
	}
	if n := s.socketCount(); n > 0 {
		c.SocketCount = &n
	}
	return c, nil
}

// cpuinfoFacts is what the inventory takes from /proc/cpuinfo: the first
// processor's model name and flags, and the processor count.
type cpuinfoFacts struct {
	modelName  string
	flags      []string
	processors int
}

// cpuinfo parses /proc/cpuinfo, keeping the first value of each key as IPA
// does (`grep -m1 ^flags`).
func (s system) cpuinfo() (cpuinfoFacts, error) {
	path := filepath.Join(s.procRoot, "cpuinfo")
	f, err := os.Open(path)
	if err != nil {
		return cpuinfoFacts{}, fmt.Errorf("read cpu info: %w", err)
	}
	defer f.Close()
	var (
		out                  cpuinfoFacts
		haveModel, haveFlags bool
	)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		switch key {
		case "processor":
			out.processors++
		case "model name":
			if !haveModel {
				out.modelName, haveModel = value, true
			}
		case "flags":
			if !haveFlags {
				out.flags, haveFlags = strings.Fields(value), true
			}
		}
	}
	if err := sc.Err(); err != nil {
		return cpuinfoFacts{}, fmt.Errorf("read cpu info: %w", err)
	}
	return out, nil
}

// cpuFrequency returns what lscpu prints as "CPU max MHz": the highest
// cpufreq cpuinfo_max_freq (kHz) of the CPUs, in MHz with four decimals;
// nil without cpufreq. Since util-linux 2.37 lscpu prints no "CPU MHz"
// from /proc/cpuinfo, so IPA reports null then, and so does this manager.
func (s system) cpuFrequency() *string {
	paths, _ := filepath.Glob(filepath.Join(s.sysRoot, "devices", "system", "cpu", "cpu[0-9]*", "cpufreq", "cpuinfo_max_freq"))
	var maxKHz int64
	for _, p := range paths {
		if khz, err := readInt(p); err == nil && khz > maxKHz {
			maxKHz = khz
		}
	}
	if maxKHz > 0 {
		return sdk.Ptr(strconv.FormatFloat(float64(maxKHz)/1000, 'f', 4, 64))
	}
	return nil
}

// cpuCount returns the number of logical CPUs online, from
// /sys/devices/system/cpu/online, else the processors of /proc/cpuinfo.
func (s system) cpuCount(processors int) int {
	list, err := readString(filepath.Join(s.sysRoot, "devices", "system", "cpu", "online"))
	if err == nil {
		if n, err := countCPUList(list); err == nil && n > 0 {
			return n
		}
	}
	return processors
}

// countCPUList counts the CPUs of a kernel CPU list such as "0-3,8,10-11".
func countCPUList(list string) (int, error) {
	n := 0
	for _, part := range strings.Split(list, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return 0, fmt.Errorf("cpu list %q: %w", list, err)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				return 0, fmt.Errorf("cpu list %q: %w", list, err)
			}
		}
		if b < a {
			return 0, fmt.Errorf("cpu list %q: bad range %q", list, part)
		}
		n += b - a + 1
	}
	return n, nil
}

// socketCount counts the distinct physical package ids of the CPUs.
func (s system) socketCount() int {
	paths, _ := filepath.Glob(filepath.Join(s.sysRoot, "devices", "system", "cpu", "cpu[0-9]*", "topology", "physical_package_id"))
	ids := map[string]bool{}
	for _, p := range paths {
		if id, err := readString(p); err == nil && id != "" {
			ids[id] = true
		}
	}
	return len(ids)
}
