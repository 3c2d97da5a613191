package image

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// PartitionTableInfo reads the first sector of device after a whole-disk
// image was written. hasTable reports an MBR boot signature (0x55 0xAA at
// offset 510; GPT's protective MBR has one too). diskID is the MBR disk
// signature (4 bytes little-endian at offset 440) formatted "0x%08x", as
// IPA reports a whole-disk image's "root uuid"; "0x00000000" means none.
func PartitionTableInfo(device string) (diskID string, hasTable bool, err error) {
	f, err := os.Open(device)
	if err != nil {
		return "", false, fmt.Errorf("read partition table of %s: %w", device, err)
	}
	defer f.Close()
	var mbr [512]byte
	if _, err := io.ReadFull(f, mbr[:]); err != nil {
		return "", false, fmt.Errorf("read partition table of %s: %w", device, err)
	}
	diskID = fmt.Sprintf("0x%08x", binary.LittleEndian.Uint32(mbr[440:444]))
	return diskID, mbr[510] == 0x55 && mbr[511] == 0xAA, nil
}
