#!/bin/sh
# Makes the ESP and disk fixtures of package esp's tests (run as any user;
# needs dosfstools, mtools, gdisk, fdisk and gzip). The fixtures are
# committed: the tests need none of these programs.
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export MTOOLS_SKIP_CHECK=1

# A Debian-like ESP (FAT16, serial 1A2B-3C4D): shim's BOOTX64.CSV names
# shimx64.efi and the label "debian"; the fallback loader in EFI/BOOT.
mkfs.vfat -F 16 -s 1 -i 1A2B3C4D -n ESP -C "$tmp/debian.fat" 4096 >/dev/null
mmd -i "$tmp/debian.fat" ::/EFI ::/EFI/BOOT ::/EFI/debian
for f in EFI/BOOT/BOOTX64.EFI EFI/BOOT/fbx64.efi EFI/debian/shimx64.efi EFI/debian/grubx64.efi EFI/debian/mmx64.efi; do
	printf 'MZ %s\n' "$f" >"$tmp/f"
	mcopy -i "$tmp/debian.fat" "$tmp/f" "::/$f"
done
printf 'search.fs_uuid 0f2b-4c1d root\nconfigfile ($root)/boot/grub/grub.cfg\n' >"$tmp/f"
mcopy -i "$tmp/debian.fat" "$tmp/f" ::/EFI/debian/grub.cfg
printf 'shimx64.efi,debian,,This is the boot entry for debian\n' | iconv -f UTF-8 -t UTF-16 >"$tmp/f"
mcopy -i "$tmp/debian.fat" "$tmp/f" ::/EFI/debian/BOOTX64.CSV
gzip -9n <"$tmp/debian.fat" >esp-debian.fat16.gz

# FAT32 (serial 0BAD-F00D) with only the default loader, long names and
# a deeper tree in front of it.
mkfs.vfat -F 32 -s 1 -i 0BADF00D -n ESP32 -C "$tmp/fat32.fat" 34000 >/dev/null
mmd -i "$tmp/fat32.fat" "::/A directory with a rather long name" "::/A directory with a rather long name/sub" ::/EFI ::/EFI/BOOT
printf 'not a loader\n' >"$tmp/f"
mcopy -i "$tmp/fat32.fat" "$tmp/f" "::/A directory with a rather long name/sub/notes about the loader.txt"
head -c 5000 /dev/zero | tr '\0' 'x' >"$tmp/f"
mcopy -i "$tmp/fat32.fat" "$tmp/f" ::/EFI/BOOT/BOOTX64.EFI
gzip -9n <"$tmp/fat32.fat" >esp-bootx64.fat32.gz

# An ESP with no loader (FAT12).
mkfs.vfat -F 12 -i 00C0FFEE -C "$tmp/empty.fat" 1024 >/dev/null
mmd -i "$tmp/empty.fat" ::/EFI
printf 'nothing here\n' >"$tmp/f"
mcopy -i "$tmp/empty.fat" "$tmp/f" ::/EFI/README.TXT
gzip -9n <"$tmp/empty.fat" >esp-empty.fat12.gz

# Disks of 8 MiB with the Debian-like ESP as partition 1 (1-5 MiB):
# GPT with the ESP type, GPT with a basic-data type (found only by its
# UUID), MBR with type 0xEF.
disk() {
	truncate -s 8M "$tmp/$1"
	dd if="$tmp/debian.fat" of="$tmp/$1" bs=1M seek=1 conv=notrunc status=none
}
disk gpt.img
sgdisk --disk-guid=11111111-2222-3333-4444-555555555555 \
	--new=1:2048:+4M --typecode=1:ef00 --partition-guid=1:6d657461-6c61-4765-8e74-000000000001 \
	--new=2:0:0 --typecode=2:8300 --partition-guid=2:6d657461-6c61-4765-8e74-000000000002 "$tmp/gpt.img" >/dev/null
gzip -9n <"$tmp/gpt.img" >disk-gpt-esp.img.gz
disk gpt-basic.img
sgdisk --disk-guid=11111111-2222-3333-4444-555555555556 \
	--new=1:2048:+4M --typecode=1:0700 --partition-guid=1:6d657461-6c61-4765-8e74-000000000011 \
	--new=2:0:0 --typecode=2:8300 --partition-guid=2:6d657461-6c61-4765-8e74-000000000012 "$tmp/gpt-basic.img" >/dev/null
gzip -9n <"$tmp/gpt-basic.img" >disk-gpt-basic.img.gz
disk mbr.img
printf 'label: dos\nlabel-id: 0x0a0b0c0d\nstart=2048, size=8192, type=ef\nstart=10240, type=83\n' | sfdisk -q "$tmp/mbr.img" 2>/dev/null
gzip -9n <"$tmp/mbr.img" >disk-mbr-esp.img.gz
