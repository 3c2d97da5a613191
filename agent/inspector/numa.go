package inspector

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// collectNUMATopology is IPA's numa-topology collector: from
// /sys/devices/system/node, {"ram": [{"numa_node", "size_kb"}], "cpus":
// [{"cpu" (core id), "numa_node", "thread_siblings"}], "nics": [{"name",
// "numa_node"}]}. As in IPA, a machine without that directory or with
// data the collector cannot read gets a warning and no numa_topology,
// not a failure.
func collectNUMATopology(_ context.Context, e *env) error {
	topo, err := numaTopology(e.o.SysRoot)
	if err != nil {
		e.log.Warn("NUMA topology not collected", "error", err)
		return nil
	}
	e.set("numa_topology", topo)
	return nil
}

// numaTopology reads the NUMA nodes under sysRoot.
func numaTopology(sysRoot string) (map[string]any, error) {
	dir := filepath.Join(sysRoot, "devices", "system", "node")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list NUMA nodes: %w", err)
	}
	type core struct{ node, id int }
	ram := []map[string]any{}
	cpus := map[core][]int{}
	for _, ent := range entries {
		id, ok := numbered(ent.Name(), "node")
		if !ok {
			continue
		}
		nodeDir := filepath.Join(dir, ent.Name())
		kb, err := nodeMemKB(filepath.Join(nodeDir, "meminfo"))
		if err != nil {
			return nil, fmt.Errorf("NUMA node %d memory: %w", id, err)
		}
		ram = append(ram, map[string]any{"numa_node": id, "size_kb": kb})
		threads, err := os.ReadDir(nodeDir)
		if err != nil {
			return nil, fmt.Errorf("NUMA node %d threads: %w", id, err)
		}
		for _, th := range threads {
			tid, ok := numbered(th.Name(), "cpu")
			if !ok {
				continue
			}
			raw, err := os.ReadFile(filepath.Join(nodeDir, th.Name(), "topology", "core_id"))
			if err != nil {
				return nil, fmt.Errorf("NUMA node %d thread %d core id: %w", id, tid, err)
			}
			cid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
			if err != nil {
				return nil, fmt.Errorf("NUMA node %d thread %d core id: %w", id, tid, err)
			}
			k := core{id, cid}
			cpus[k] = append(cpus[k], tid)
		}
	}
	sort.Slice(ram, func(i, j int) bool { return ram[i]["numa_node"].(int) < ram[j]["numa_node"].(int) })
	keys := make([]core, 0, len(cpus))
	for k := range cpus {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].node != keys[j].node {
			return keys[i].node < keys[j].node
		}
		return keys[i].id < keys[j].id
	})
	cpuList := make([]map[string]any, 0, len(keys))
	for _, k := range keys {
		sort.Ints(cpus[k])
		cpuList = append(cpuList, map[string]any{"cpu": k.id, "numa_node": k.node, "thread_siblings": cpus[k]})
	}
	nics, err := nicNodes(filepath.Join(sysRoot, "class", "net"))
	if err != nil {
		return nil, err
	}
	return map[string]any{"ram": ram, "cpus": cpuList, "nics": nics}, nil
}

// numbered parses names such as "node0" or "cpu12".
func numbered(name, prefix string) (int, bool) {
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok || rest == "" {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	return n, err == nil
}

// nodeMemKB reads "Node N MemTotal: <n> kB" from a node's meminfo, in kB
// (MB and GB are converted, 1 MB = 1024 kB).
func nodeMemKB(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		_, v, ok := strings.Cut(sc.Text(), "MemTotal:")
		if !ok {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 0 {
			break
		}
		n, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("MemTotal %q: %w", v, err)
		}
		unit := "kB"
		if len(fields) > 1 {
			unit = fields[1]
		}
		switch strings.ToLower(unit) {
		case "kb":
			return n, nil
		case "mb":
			return n << 10, nil
		case "gb":
			return n << 20, nil
		}
		return 0, fmt.Errorf("MemTotal %q: unknown unit", v)
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%s has no MemTotal", path)
}

// nicNodes lists the interfaces whose device has a numa_node file.
func nicNodes(netDir string) ([]map[string]any, error) {
	entries, err := os.ReadDir(netDir)
	if err != nil {
		return nil, fmt.Errorf("list network interfaces: %w", err)
	}
	out := []map[string]any{}
	for _, ent := range entries {
		raw, err := os.ReadFile(filepath.Join(netDir, ent.Name(), "device", "numa_node"))
		if err != nil {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(string(raw)))
		if err != nil {
			return nil, fmt.Errorf("interface %s NUMA node: %w", ent.Name(), err)
		}
		out = append(out, map[string]any{"name": ent.Name(), "numa_node": n})
	}
	return out, nil
}
