#!/bin/sh
# Regenerate test/fixtures/elf: real ELF32 i386 objects built with the Debian cross compiler, a tiny
# x86_64 shared object, the files GNU readelf prints for them, and deliberately malformed files
# derived from them by patching single fields (see test/fixtures/elf/README.md for the list).
#
# Needs: gcc-i686-linux-gnu, gcc, GNU binutils (readelf). Tests never run this; they use the
# committed outputs. Output is deterministic for a given toolchain (build ids are content hashes).
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
out="$here/test/fixtures/elf"
src="$out/src"
cd "$out"
rm -rf i386 x86_64 malformed
mkdir -p i386 x86_64 malformed

CC32=${CC32:-i686-linux-gnu-gcc}
CC=${CC:-gcc}
# -ffile-prefix-map and a fixed directory keep paths out of the objects.
common="-O1 -g0 -fno-asynchronous-unwind-tables -ffile-prefix-map=$src=."

# ELF32 i386: a versioned shared library and a dynamic executable that needs it (REL relocations:
# R_386_RELATIVE, R_386_GLOB_DAT, R_386_JUMP_SLOT; both hash tables; verdef and verneed).
$CC32 $common -fPIC -shared -Wl,--hash-style=both -Wl,--build-id=sha1 \
  -Wl,-soname,libfixture.so.1 -Wl,--version-script="$src/lib.map" \
  -o i386/libfixture.so.1 "$src/lib.c"
$CC32 $common -fno-pie -no-pie -Wl,--hash-style=both -Wl,--build-id=sha1 \
  -Wl,-rpath,'$ORIGIN' -o i386/main "$src/main.c" i386/libfixture.so.1

# ELF64 x86_64: a libc-free shared object, small enough to copy for every malformed variant.
$CC $common -fPIC -shared -nostdlib -Wl,--hash-style=both -Wl,--build-id=none \
  -Wl,-z,noseparate-code -Wl,-soname,libtiny.so -o x86_64/libtiny.so "$src/tiny.c"

# DT_RELR as GNU ld 2.40 packs it (-z pack-relative-relocs), ELF64 and ELF32.
$CC $common -fPIC -shared -nostdlib -Wl,-z,pack-relative-relocs -Wl,--build-id=none \
  -Wl,-soname,librelr.so -o x86_64/librelr.so "$src/relr.c"
$CC32 $common -fPIC -shared -nostdlib -Wl,-z,pack-relative-relocs -Wl,--build-id=none \
  -Wl,-soname,librelr.so -o i386/librelr.so "$src/relr.c"

for f in i386/libfixture.so.1 i386/main x86_64/libtiny.so x86_64/librelr.so i386/librelr.so; do
  readelf -W -a "$f" > "$f.readelf-a.txt" 2>&1 || true
  readelf -W --dyn-syms "$f" > "$f.readelf-dyn-syms.txt" 2>&1 || true
done

# ---- malformed variants ------------------------------------------------------------------------
# poke FILE OFFSET BYTES... : overwrite bytes (hex pairs) at a decimal offset.
poke() {
  p_file=$1
  p_at=$2
  shift 2
  for b in "$@"; do
    printf "\\$(printf '%03o' "0x$b")" | dd of="$p_file" bs=1 seek="$p_at" conv=notrunc status=none
    p_at=$((p_at + 1))
  done
}
shdr_at() { # FILE INDEX -> decimal offset of that section header (ELF64: 64 bytes, ELF32: 40 bytes)
  shoff=$(readelf -h "$1" | awk '/Start of section headers/ {print $5}')
  size=$(readelf -h "$1" | awk '/Size of section headers/ {print $5}')
  echo $((shoff + $2 * size))
}
sec_index() { # FILE NAME -> index
  readelf -SW "$1" | awk -v n="$2" '$0 ~ /^ *\[/ { gsub(/[\[\]]/, " "); if ($2 == n) print $1 }'
}

base64=x86_64/libtiny.so
base32=i386/libfixture.so.1
size64=$(wc -c < $base64)

m=malformed
printf 'this is not an ELF file\n' > $m/not-elf.txt
head -c 10 $base64 > $m/truncated-ident.so
head -c 40 $base64 > $m/truncated-ehdr.so
head -c 200 $base64 > $m/truncated-phdrs.so
head -c $((size64 - 100)) $base64 > $m/truncated-shdrs.so
head -c 30 $base32 > $m/truncated-ehdr32.so

cp $base64 $m/bad-class.so;      poke $m/bad-class.so 4 03
cp $base64 $m/bad-data.so;       poke $m/bad-data.so 5 00
cp $base64 $m/phnum-huge.so;     poke $m/phnum-huge.so 56 fe ff          # e_phnum = 0xfffe
cp $base64 $m/shnum-huge.so;     poke $m/shnum-huge.so 60 ff fe          # e_shnum = 0xfeff
cp $base64 $m/phoff-past-end.so; poke $m/phoff-past-end.so 32 00 00 10    # e_phoff = 0x100000
cp $base64 $m/shoff-past-end.so; poke $m/shoff-past-end.so 40 00 00 00 01 # e_shoff = 0x1000000
cp $base64 $m/phentsize-small.so; poke $m/phentsize-small.so 54 10 00     # e_phentsize = 16
cp $base64 $m/shentsize-small.so; poke $m/shentsize-small.so 58 20 00     # e_shentsize = 32
cp $base64 $m/shstrndx-out-of-range.so; poke $m/shstrndx-out-of-range.so 62 c8 00 # e_shstrndx = 200
cp $base32 $m/phnum-huge32.so;   poke $m/phnum-huge32.so 44 fe ff

dynsym=$(sec_index $base64 .dynsym)
dynstr=$(sec_index $base64 .dynstr)
at=$(shdr_at $base64 "$dynsym")
cp $base64 $m/shsize-huge.so;    poke $m/shsize-huge.so $((at + 32)) 00 00 ff ff ff ff ff ff  # sh_size = 0xffffffffffff0000
cp $base64 $m/shsize-past-end.so; poke $m/shsize-past-end.so $((at + 32)) 00 00 10 00 00 00 00 00 # sh_size = 0x100000
cp $base64 $m/shoffset-past-end.so; poke $m/shoffset-past-end.so $((at + 24)) 00 00 10 00 00 00 00 00 # sh_offset = 0x100000
cp $base64 $m/cyclic-link.so;    poke $m/cyclic-link.so $((at + 40)) "$(printf '%02x' "$dynsym")" # .dynsym sh_link = itself
# .dynstr with every NUL replaced: no string in it is terminated.
at=$(shdr_at $base64 "$dynstr")
off=$(readelf -SW $base64 | awk -v n=.dynstr '$2 == n || $3 == n { for (i = 1; i <= NF; i++) if ($i == "STRTAB") print $(i + 2) }')
len=$(readelf -SW $base64 | awk -v n=.dynstr '$2 == n || $3 == n { for (i = 1; i <= NF; i++) if ($i == "STRTAB") print $(i + 3) }')
cp $base64 $m/strtab-no-nul.so
i=0
while [ $i -lt $((0x$len)) ]; do poke $m/strtab-no-nul.so $((0x$off + i)) 41; i=$((i + 1)); done

for f in $m/*; do
  readelf -W -a "$f" > /dev/null 2> "$f.readelf-stderr.txt" || true
done

{
  echo "# Generated by scripts/make-elf-fixtures.sh on $(date -u +%Y-%m-%d)"
  echo "# $($CC32 --version | head -1)"
  echo "# $($CC --version | head -1)"
  echo "# $(readelf --version | head -1)"
  find i386 x86_64 malformed -type f ! -name '*.txt' | sort | xargs sha256sum
} > MANIFEST.txt
