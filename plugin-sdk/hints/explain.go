package hints

import (
	"fmt"
	"strings"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// Verdict says what Choose made of one disk.
type Verdict struct {
	// Disk is the disk's name.
	Disk string `json:"disk"`
	// Chosen is true for the disk Choose picks.
	Chosen bool `json:"chosen"`
	// Reason is why the disk was chosen or ruled out.
	Reason string `json:"reason"`
}

// Explain applies the same rules as Choose and says, for every disk in
// order, whether it is the one chosen and why, or which rule ruled it out:
// the first hint it fails, a skip-list entry it matches, its size under
// the 4 GiB default, or a better disk chosen instead. It is the dry run
// behind "metalagent root-device".
func Explain(disks []sdk.BlockDevice, h Hints, skip []Hints) []Verdict {
	var candidates []sdk.BlockDevice
	out := make([]Verdict, 0, len(disks))
	skipped := map[string]string{}
	for _, d := range disks {
		if s := firstMatch(skip, d); s != "" {
			skipped[d.Name] = "matches skip_block_devices entry " + s
			continue
		}
		candidates = append(candidates, d)
	}
	chosen, err := Choose(candidates, h)
	for _, d := range disks {
		v := Verdict{Disk: d.Name}
		switch {
		case skipped[d.Name] != "":
			v.Reason = skipped[d.Name]
		case err == nil && d.Name == chosen.Name:
			v.Chosen = true
			if h.Empty() {
				v.Reason = "smallest disk of at least 4 GiB (no root device hints)"
			} else {
				v.Reason = "first disk matching every hint " + h.String()
			}
		case !h.Empty():
			if why := h.Mismatch(d); why != "" {
				v.Reason = why
			} else {
				v.Reason = "matches every hint, but " + chosen.Name + " comes first"
			}
		case d.Size < MinRootDiskSize:
			v.Reason = fmt.Sprintf("smaller than 4 GiB (%d bytes)", d.Size)
		default:
			v.Reason = fmt.Sprintf("larger than %s, or the same size with a later name", chosen.Name)
		}
		out = append(out, v)
	}
	return out
}

func firstMatch(list []Hints, d sdk.BlockDevice) string {
	for _, h := range list {
		if h.Match(d) {
			return h.String()
		}
	}
	return ""
}

// Mismatch returns why dev fails the hints: the first hint it does not
// match, with the disk's value; "" when it matches them all.
func (h Hints) Mismatch(dev sdk.BlockDevice) string {
	for _, r := range h.rules {
		if r.match(dev) {
			continue
		}
		var have string
		switch r.key {
		case "rotational":
			have = fmt.Sprint(dev.Rotational)
		case "size":
			have = fmt.Sprintf("%d GiB", dev.Size>>30)
		default:
			if v := deviceString(dev, r.key); v != nil {
				have = fmt.Sprintf("%q", *v)
			} else {
				have = "null"
			}
		}
		want := jsonText(h.raw[r.key])
		return fmt.Sprintf("hint %s=%s does not match: the disk has %s", r.key, strings.TrimSpace(want), have)
	}
	return ""
}
