/**
 * Small C/C++ programs for the relocation parity tests, built with gcc/g++ at test time in a fresh
 * temporary directory. Each covers a lookup or relocation rule of glibc 2.36 ld.so.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runs } from "./build-fixtures.ts";

export function hasGxx(): boolean {
  return runs("g++", ["--version"]);
}

export interface RelocPrograms {
  readonly dir: string;
  /** PIE: weak undefined refs (data and function), a weak definition in a library, interposition. */
  readonly weak: string;
  /** PIE using versioned symbols of libv (vsym@@VER_2 default, vsym@VER_1 hidden, only@VER_1). */
  readonly versioned: string;
  /** Needs version VER_9 of libv, which libv (rebuilt after linking) no longer has. */
  readonly badVersion: string;
  /** Non-PIE: COPY relocations of a library's data, canonical PLT addresses, protected data/functions. */
  readonly copy: string;
  /** TLS in the executable (initial exec) and in two libraries (general dynamic and initial exec). */
  readonly tls: string;
  /** An IFUNC in a library called from the executable. */
  readonly ifunc: string;
  /** C++ STB_GNU_UNIQUE (inline function static, template static member) in two libraries. */
  readonly unique: string | undefined;
  /** Text relocations (-z notext, non-PIC code in a library). */
  readonly textrel: string;
  /** TLS descriptors (-mtls-dialect=gnu2): R_X86_64_TLSDESC, resolved at load even when lazy. */
  readonly tlsdesc: string;
  /** A -Bsymbolic library defining a symbol the executable also defines. */
  readonly symbolic: string;
  /** Prints GOT values, &copy-relocated data and TLS offsets for the memory oracle. */
  readonly dump: string;
  /** Prints dlsym/dlvsym/RTLD_NEXT answers for libv's versioned symbols. */
  readonly dlsym: string;
  /** Linked against an unversioned libv, run against the versioned one: prints &vsym, &only. */
  readonly oldBinary: string;
  /** Lazy non-PIE: prints its GOT[1..5] (link map, resolver, JUMP_SLOTs not yet called) before any call. */
  readonly lazyGot: string;
}

const LIB_WEAK = `
int weak_def(void) __attribute__((weak));
int weak_def(void) { return 1; }
int strong_def(void) { return 2; }
int shared_data = 5;
`;
const MAIN_WEAK = `
extern int missing_data __attribute__((weak));
extern int missing_fn(void) __attribute__((weak));
int weak_def(void);
int strong_def(void);
int shared_data = 7; /* interposes the library's */
int main(void) { return (&missing_data != 0) + (missing_fn != 0) + weak_def() + strong_def() + shared_data; }
`;
const LIB_V = `
int vsym_1(void) { return 1; }
int vsym_2(void) { return 2; }
int only_1(void) { return 3; }
__asm__(".symver vsym_1,vsym@VER_1");
__asm__(".symver vsym_2,vsym@@VER_2");
__asm__(".symver only_1,only@VER_1");
`;
const MAP_V = "VER_1 { global: vsym; only; local: *; };\nVER_2 { global: vsym; } VER_1;\n";
const MAP_V9 =
  "VER_1 { global: vsym; only; local: *; };\nVER_2 { global: vsym; } VER_1;\nVER_9 { global: nine; } VER_2;\n";
const LIB_V9 = `${LIB_V}\nint nine(void) { return 9; }\n`;
const MAIN_V = `
int vsym(void); int only(void);
__asm__(".symver only,only@VER_1");
int main(void) { return vsym() + only(); }
`;
const MAIN_V9 = "int nine(void);\nint main(void) { return nine(); }\n";
const LIB_COPY = `
int lib_array[8] = {1, 2, 3, 4, 5, 6, 7, 8};
const char *lib_str = "hello";
__attribute__((visibility("protected"))) int prot_data = 42;
__attribute__((visibility("protected"))) int prot_fn(void) { return prot_data; }
int lib_fn(void) { return lib_array[0]; }
int *lib_array_ptr(void) { return lib_array; }
int (*lib_fn_ptr(void))(void) { return lib_fn; }
`;
const MAIN_COPY = `
#include <stdio.h>
extern int lib_array[8];
extern const char *lib_str;
int lib_fn(void);
int prot_fn(void);
int *lib_array_ptr(void);
int (*lib_fn_ptr(void))(void);
int main(void) {
  printf("%d %s %d %d\\n", lib_array[1], lib_str, lib_array_ptr() == lib_array, lib_fn_ptr() == lib_fn);
  return prot_fn() == 42 ? 0 : 1;
}
`;
const LIB_TLS_GD = "__thread int tls_gd = 3; __thread char tls_gd_buf[100]; int *gd_addr(void) { return &tls_gd; }\n";
const LIB_TLS_IE = `
__attribute__((tls_model("initial-exec"))) __thread long tls_ie __attribute__((aligned(64))) = 4;
long *ie_addr(void) { return &tls_ie; }
`;
const MAIN_TLS = `
#include <stdio.h>
__thread int tls_exe = 1;
__thread int tls_exe_bss;
extern __thread int tls_gd;
extern __thread long tls_ie;
int *gd_addr(void); long *ie_addr(void);
int main(void) {
  char *tp = __builtin_thread_pointer();
  printf("exe %ld bss %ld gd %ld ie %ld\\n", (long)((char *)&tls_exe - tp), (long)((char *)&tls_exe_bss - tp),
         (long)((char *)gd_addr() - tp), (long)((char *)ie_addr() - tp));
  return 0;
}
`;
const LIB_IFUNC = `
static int impl_a(void) { return 1; }
static int impl_b(void) { return 2; }
static int (*resolve_pick(void))(void) { return impl_b; }
int picked(void) __attribute__((ifunc("resolve_pick")));
int call_picked(void) { return picked(); }
`;
const MAIN_IFUNC = "int picked(void); int call_picked(void);\nint main(void) { return picked() + call_picked(); }\n";
const LIB_UNIQ = `
template <typename T> struct Holder { static int value; };
template <typename T> int Holder<T>::value = 1;
inline int &counter() { static int c = 0; return c; }
int bump_a() { Holder<int>::value++; return ++counter(); }
`;
const LIB_UNIQ_B = `
template <typename T> struct Holder { static int value; };
template <typename T> int Holder<T>::value = 1;
inline int &counter() { static int c = 0; return c; }
int bump_b() { Holder<int>::value++; return ++counter(); }
`;
const MAIN_UNIQ = "int bump_a(); int bump_b();\nint main() { return bump_a() + bump_b(); }\n";
const LIB_TEXTREL = "int tr_data = 9;\nint tr_get(void) { return tr_data; }\n";
const MAIN_TEXTREL = "int tr_get(void);\nint main(void) { return tr_get(); }\n";

/**
 * Dumps every relocated slot of every loaded object (dl_iterate_phdr → PT_DYNAMIC → DT_RELA /
 * DT_JMPREL / DT_RELR; ld.so has already made those d_ptr values absolute): "name addr value type".
 */
const DUMP = `
#define _GNU_SOURCE
#include <elf.h>
#include <link.h>
#include <stdio.h>
#include <stdint.h>
static int cb(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size; (void)data;
  const ElfW(Dyn) *dyn = 0;
  for (int i = 0; i < info->dlpi_phnum; i++)
    if (info->dlpi_phdr[i].p_type == PT_DYNAMIC) dyn = (const void *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
  if (!dyn) return 0;
  uintptr_t rela = 0, relasz = 0, jmprel = 0, pltrelsz = 0, relr = 0, relrsz = 0;
  for (; dyn->d_tag != DT_NULL; dyn++) {
    switch (dyn->d_tag) {
      case DT_RELA: rela = dyn->d_un.d_ptr; break;
      case DT_RELASZ: relasz = dyn->d_un.d_val; break;
      case DT_JMPREL: jmprel = dyn->d_un.d_ptr; break;
      case DT_PLTRELSZ: pltrelsz = dyn->d_un.d_val; break;
      case 36: relr = dyn->d_un.d_ptr; break;
      case 35: relrsz = dyn->d_un.d_val; break;
    }
  }
  const char *name = info->dlpi_name[0] ? info->dlpi_name : "main";
  /* ld.so makes these absolute in place, except in the vDSO and (when ld.so runs its own) ... */
  uintptr_t fix = (rela && rela < info->dlpi_addr) ? info->dlpi_addr : 0;
  const ElfW(Rela) *r = (const void *)(rela + fix);
  for (size_t i = 0; rela && i < relasz / sizeof *r; i++)
    printf("%s %lx %lx %lu\\n", name, (unsigned long)(info->dlpi_addr + r[i].r_offset),
           *(unsigned long *)(info->dlpi_addr + r[i].r_offset), (unsigned long)ELF64_R_TYPE(r[i].r_info));
  fix = (jmprel && jmprel < info->dlpi_addr) ? info->dlpi_addr : 0;
  r = (const void *)(jmprel + fix);
  for (size_t i = 0; jmprel && i < pltrelsz / sizeof *r; i++)
    printf("%s %lx %lx %lu\\n", name, (unsigned long)(info->dlpi_addr + r[i].r_offset),
           *(unsigned long *)(info->dlpi_addr + r[i].r_offset), (unsigned long)ELF64_R_TYPE(r[i].r_info));
  fix = (relr && relr < info->dlpi_addr) ? info->dlpi_addr : 0;
  const uint64_t *w = (const void *)(relr + fix);
  uint64_t *where = 0;
  for (size_t i = 0; relr && i < relrsz / 8; i++) {
    if ((w[i] & 1) == 0) {
      where = (uint64_t *)(info->dlpi_addr + w[i]);
      printf("%s %lx %lx 8\\n", name, (unsigned long)where, (unsigned long)*where);
      where++;
    } else {
      for (int b = 1; b < 64; b++)
        if ((w[i] >> b) & 1) printf("%s %lx %lx 8\\n", name, (unsigned long)(where + b - 1), (unsigned long)where[b - 1]);
      where += 63;
    }
  }
  return 0;
}
extern int lib_array[8];
extern __thread int tls_gd;
int main(void) { (void)lib_array[0]; (void)tls_gd; dl_iterate_phdr(cb, 0); return 0; }
`;

const MAIN_DLSYM = `
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
int vsym(void);
int main(void) {
  printf("%p %p %p %p %p %p\\n", dlsym(RTLD_DEFAULT, "vsym"), dlvsym(RTLD_DEFAULT, "vsym", "VER_1"),
         dlvsym(RTLD_DEFAULT, "vsym", "VER_2"), dlsym(RTLD_NEXT, "vsym"), dlsym(RTLD_DEFAULT, "only"),
         dlsym(RTLD_DEFAULT, "no_such_symbol"));
  return vsym() == 2 ? 0 : 1;
}
`;
const LIB_NOV = "int vsym(void) { return 0; }\nint only(void) { return 0; }\n";
const MAIN_OLD = `
#include <stdio.h>
int vsym(void); int only(void);
int main(void) { printf("%p %p\\n", (void *)vsym, (void *)only); return 0; }
`;

const MAIN_LAZYGOT = `
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
extern void *_GLOBAL_OFFSET_TABLE_[];
int main(int argc, char **argv) {
  /* Constant indices (a variable one makes gcc address _GLOBAL_OFFSET_TABLE_ as GOTPC), before any PLT call. */
  void *g1 = _GLOBAL_OFFSET_TABLE_[1], *g2 = _GLOBAL_OFFSET_TABLE_[2], *g3 = _GLOBAL_OFFSET_TABLE_[3];
  void *g4 = _GLOBAL_OFFSET_TABLE_[4], *g5 = _GLOBAL_OFFSET_TABLE_[5];
  printf("%p\\n%p\\n%p\\n%p\\n%p\\n", g1, g2, g3, g4, g5);
  if (argc > 5) { puts(argv[0]); exit(strlen(argv[1])); }
  return 0;
}
`;

export function buildRelocPrograms(): RelocPrograms {
  const dir = mkdtempSync(join(tmpdir(), "ldsim-relocfx-"));
  const w = (name: string, text: string) => writeFileSync(join(dir, name), text);
  const cc = (...a: string[]) => execFileSync("gcc", a, { cwd: dir, stdio: "pipe" });
  const rp = `-Wl,-rpath,${dir}`;
  w("libweak.c", LIB_WEAK);
  w("mweak.c", MAIN_WEAK);
  cc("-shared", "-fPIC", "-o", "libweak.so", "libweak.c");
  cc("-o", "weak", "mweak.c", "-L.", "-lweak", rp);
  w("libv.c", LIB_V);
  w("libv.map", MAP_V);
  w("libv9.c", LIB_V9);
  w("libv9.map", MAP_V9);
  w("mv.c", MAIN_V);
  w("mv9.c", MAIN_V9);
  cc("-shared", "-fPIC", "-o", "libv.so", "libv.c", "-Wl,--version-script=libv.map", "-Wl,-soname,libv.so");
  cc("-o", "versioned", "mv.c", "-L.", "-lv", rp);
  // Link against a libv that has VER_9, run against one that has not (a separate directory).
  cc("-shared", "-fPIC", "-o", "libv9.so", "libv9.c", "-Wl,--version-script=libv9.map", "-Wl,-soname,libv.so");
  execFileSync("mkdir", ["-p", join(dir, "v9")]);
  execFileSync("cp", [join(dir, "libv9.so"), join(dir, "v9", "libv.so")]);
  cc("-o", "badversion", "mv9.c", "-Lv9", "-lv", rp);
  w("libcopy.c", LIB_COPY);
  w("mcopy.c", MAIN_COPY);
  cc("-shared", "-fPIC", "-o", "libcopy.so", "libcopy.c");
  cc("-no-pie", "-fno-pie", "-o", "copy", "mcopy.c", "-L.", "-lcopy", rp);
  w("libtlsgd.c", LIB_TLS_GD);
  w("libtlsie.c", LIB_TLS_IE);
  w("mtls.c", MAIN_TLS);
  cc("-shared", "-fPIC", "-o", "libtlsgd.so", "libtlsgd.c");
  cc("-shared", "-fPIC", "-o", "libtlsie.so", "libtlsie.c");
  cc("-o", "tls", "mtls.c", "-L.", "-ltlsgd", "-ltlsie", rp);
  cc("-shared", "-fPIC", "-mtls-dialect=gnu2", "-o", "libtlsd.so", "libtlsgd.c");
  w("mtlsd.c", "extern __thread int tls_gd;\nint *gd_addr(void);\nint main(void) { return *gd_addr() + tls_gd; }\n");
  cc("-mtls-dialect=gnu2", "-o", "tlsdesc", "mtlsd.c", "-L.", "-ltlsd", rp);
  w("libifunc.c", LIB_IFUNC);
  w("mifunc.c", MAIN_IFUNC);
  cc("-shared", "-fPIC", "-o", "libifunc.so", "libifunc.c");
  cc("-o", "ifunc", "mifunc.c", "-L.", "-lifunc", rp);
  let unique: string | undefined;
  if (hasGxx()) {
    const cxx = (...a: string[]) => execFileSync("g++", a, { cwd: dir, stdio: "pipe" });
    w("libua.cc", LIB_UNIQ);
    w("libub.cc", LIB_UNIQ_B);
    w("mu.cc", MAIN_UNIQ);
    cxx("-shared", "-fPIC", "-o", "libua.so", "libua.cc");
    cxx("-shared", "-fPIC", "-o", "libub.so", "libub.cc");
    cxx("-o", "unique", "mu.cc", "-L.", "-lua", "-lub", rp);
    unique = join(dir, "unique");
  }
  w("libtr.c", LIB_TEXTREL);
  w("mtr.c", MAIN_TEXTREL);
  cc("-shared", "-fno-pic", "-mcmodel=large", "-o", "libtr.so", "libtr.c", "-Wl,-z,notext");
  cc("-o", "textrel", "mtr.c", "-L.", "-ltr", rp);
  w(
    "libsym.c",
    'int shared_name(void) { return 1; }\nint call_shared(void) { return shared_name(); }\nextern int puts(const char *);\nint say(void) { return puts("x"); }\n',
  );
  w(
    "msym.c",
    "int shared_name(void) { return 2; }\nint call_shared(void);\nint main(void) { return call_shared(); }\n",
  );
  cc("-shared", "-fPIC", "-o", "libsym.so", "libsym.c", "-Wl,-Bsymbolic");
  cc("-o", "symbolic", "msym.c", "-L.", "-lsym", rp);
  w("dump.c", DUMP);
  cc(
    "-o",
    "dump",
    "dump.c",
    "-Wl,--no-as-needed",
    "-L.",
    "-lcopy",
    "-ltlsgd",
    "-ltlsie",
    "-lweak",
    "-lifunc",
    "-lv",
    rp,
  );
  w("mdlsym.c", MAIN_DLSYM);
  cc("-o", "dlsym", "mdlsym.c", "-L.", "-lv", rp);
  execFileSync("mkdir", ["-p", join(dir, "nov")]);
  w("nov/libv.c", LIB_NOV);
  w("mold.c", MAIN_OLD);
  cc("-shared", "-fPIC", "-o", "nov/libv.so", "nov/libv.c", "-Wl,-soname,libv.so");
  cc("-o", "oldbin", "mold.c", "-Lnov", "-lv", rp);
  w("mlazygot.c", MAIN_LAZYGOT);
  cc("-no-pie", "-fno-pie", "-Wl,-z,lazy", "-o", "lazygot", "mlazygot.c");
  return {
    dir,
    lazyGot: join(dir, "lazygot"),
    dlsym: join(dir, "dlsym"),
    oldBinary: join(dir, "oldbin"),
    weak: join(dir, "weak"),
    versioned: join(dir, "versioned"),
    badVersion: join(dir, "badversion"),
    copy: join(dir, "copy"),
    tls: join(dir, "tls"),
    ifunc: join(dir, "ifunc"),
    unique,
    textrel: join(dir, "textrel"),
    symbolic: join(dir, "symbolic"),
    tlsdesc: join(dir, "tlsdesc"),
    dump: join(dir, "dump"),
  };
}
