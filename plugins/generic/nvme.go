package generic

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/hashicorp/go-hclog"
)

// NVMe Identify Controller bits nvme format depends on.
const (
	// oacsFormat is the Format NVM command in OACS (Optional Admin
	// Command Support).
	oacsFormat = 1 << 1
	// fnaCryptoErase is "cryptographic erase supported" in FNA (Format
	// NVM Attributes).
	fnaCryptoErase = 1 << 2
)

// NVMe secure erase settings of nvme format (-s, --ses).
const (
	sesUserData = 1
	sesCrypto   = 2
)

// isNVMe reports whether d is an NVMe namespace, by its name as IPA does.
func isNVMe(d disk) bool { return strings.HasPrefix(d.Name, "/dev/nvme") }

// nvmeController is what nvme id-ctrl -o json reports that nvme format
// needs.
type nvmeController struct {
	OACS *uint64 `json:"oacs"`
	FNA  *uint64 `json:"fna"`
}

// nvmeFormatMode returns the secure erase setting for nvme format from
// the output of nvme id-ctrl -o json: a cryptographic erase when the
// controller supports one, else a user-data erase. A controller without
// the Format NVM command, or an output without the fields, is an error.
func nvmeFormatMode(out []byte, dev string) (int, error) {
	if len(bytes.TrimSpace(out)) == 0 {
		return 0, secureEraseError("nvme-cli did not return any information for device %s", dev)
	}
	var c nvmeController
	if err := json.Unmarshal(out, &c); err != nil {
		return 0, secureEraseError("nvme id-ctrl output of %s is not JSON: %v", dev, err)
	}
	if c.OACS == nil {
		return 0, secureEraseError("nvme-cli did not return the admin commands (oacs) of device %s", dev)
	}
	if *c.OACS&oacsFormat == 0 {
		return 0, secureEraseError("nvme-cli did not return any supported format modes for device %s (oacs %#x)", dev, *c.OACS)
	}
	if c.FNA != nil && *c.FNA&fnaCryptoErase != 0 {
		return sesCrypto, nil
	}
	return sesUserData, nil
}

// nvmeErase formats d, an NVMe namespace, with nvme-cli as IPA's
// _nvme_erase does: nvme id-ctrl tells whether the controller can
// erase cryptographically (-s 2) or only the user data (-s 1), then nvme
// format erases. It returns true when the disk was erased; every failure,
// a missing nvme-cli included, wraps errSecureErase.
func (m *Manager) nvmeErase(ctx context.Context, log hclog.Logger, d disk) (bool, error) {
	out, err := m.run(ctx, log, "nvme", "id-ctrl", d.Name, "-o", "json")
	if err != nil {
		return false, secureEraseError("fetch NVMe capabilities of %s: %v", d.Name, err)
	}
	ses, err := nvmeFormatMode(out, d.Name)
	if err != nil {
		return false, err
	}
	kind := "user-data erase"
	if ses == sesCrypto {
		kind = "cryptographic erase"
	}
	log.Info("formatting NVMe namespace", "ses", ses, "erase", kind)
	if _, err := m.run(ctx, log, "nvme", "format", d.Name, "-s", strconv.Itoa(ses), "-f"); err != nil {
		return false, secureEraseError("nvme format of %s (ses %d, %s): %v", d.Name, ses, kind, err)
	}
	log.Info("NVMe format done", "ses", ses, "erase", kind)
	return true, nil
}
