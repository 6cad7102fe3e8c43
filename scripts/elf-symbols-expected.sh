#!/bin/sh
# Regenerate test/fixtures/elf-symbols/expected/ with the host GNU readelf (2.40 when committed).
# Each input file F gives expected/<path with / as __>.{s,dyn-syms,V}.txt
set -eu
cd "$(dirname "$0")/.."
out=test/fixtures/elf-symbols/expected
mkdir -p "$out"
for f in test/fixtures/elf-symbols/x86_64/libv.so test/fixtures/elf-symbols/x86_64/libfoo.so \
  test/fixtures/elf-symbols/i686/libv.so test/fixtures/elf-symbols/i686/libv.o \
  test/fixtures/sframe/v3/aarch64/liba.so test/fixtures/sframe/v3/aarch64/main \
  test/fixtures/sframe/v3/s390x/liba.so test/fixtures/sframe/v3/s390x/main test/fixtures/sframe/v3/s390x/liba.o \
  test/fixtures/sframe/v3/x86_64/main test/fixtures/sframe/v1/x86_64/libb.so \
  test/fixtures/elf-symbols/malformed/*.so; do
  base=$(echo "${f#test/fixtures/}" | sed 's#/#__#g')
  LC_ALL=C readelf -W -s "$f" > "$out/$base.s.txt"
  LC_ALL=C readelf -W --dyn-syms "$f" > "$out/$base.dyn-syms.txt"
  LC_ALL=C readelf -W -V "$f" > "$out/$base.V.txt"
done
