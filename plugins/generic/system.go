package generic

import (
	"path/filepath"

	"github.com/hashicorp/go-hclog"

	sdk "github.com/metalagent/metalagent/plugin-sdk"
)

// systemVendor builds IPA's SystemVendorInfo as lshw reports the system
// node: from the SMBIOS System (type 1) and BIOS (type 0) structures, each
// field falling back to /sys/class/dmi/id when SMBIOS lacks it. The
// product name gets the SKU appended in parentheses when there is one,
// vendor and serial fall back to the chassis's, and every missing value is
// "". Firmware is reported only when the BIOS vendor, version or date is
// known.
func (s system) systemVendor(log hclog.Logger) (*sdk.SystemVendorInfo, error) {
	dmi := filepath.Join(s.sysRoot, "class", "dmi", "id")
	smb := s.smbios(log)
	if smb == nil {
		smb = &smbiosInfo{}
	}
	get := func(fromSMBIOS string, names ...string) string {
		if fromSMBIOS != "" {
			return fromSMBIOS
		}
		for _, n := range names {
			if v := readOptional(filepath.Join(dmi, n)); v != nil {
				return *v
			}
		}
		return ""
	}
	info := &sdk.SystemVendorInfo{
		ProductName:  get(smb.product, "product_name"),
		SerialNumber: get(smb.serial, "product_serial", "chassis_serial"),
		Manufacturer: get(smb.manufacturer, "sys_vendor", "chassis_vendor"),
	}
	if sku := get(smb.sku, "product_sku"); sku != "" {
		info.ProductName += " (" + sku + ")"
	}
	fw := sdk.Firmware{
		Vendor:    get(smb.biosVendor, "bios_vendor"),
		Version:   get(smb.biosVersion, "bios_version"),
		BuildDate: get(smb.biosDate, "bios_date"),
	}
	if fw != (sdk.Firmware{}) {
		info.Firmware = &fw
	}
	return info, nil
}

// boot builds IPA's BootInfo: "uefi" when the kernel was booted by EFI
// firmware, else "bios", and the raw BOOTIF parameter.
func (s system) boot(bootIF string) *sdk.BootInfo {
	b := &sdk.BootInfo{CurrentBootMode: "bios"}
	if exists(filepath.Join(s.sysRoot, "firmware", "efi")) {
		b.CurrentBootMode = "uefi"
	}
	if bootIF != "" {
		b.PXEInterface = &bootIF
	}
	return b
}
