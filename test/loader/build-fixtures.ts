import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Whether `file args` runs and exits 0 here (the probe behind the host-tool checks). */
export function runs(file: string, args: readonly string[]): boolean {
  try {
    execFileSync(file, args, { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Whether gcc is available (tests that build programs skip visibly without it). */
export function hasGcc(): boolean {
  return runs("gcc", ["--version"]);
}

/** Whether `setarch -R strace` runs here (the parity tests trace real programs without ASLR). */
export function hasStrace(): boolean {
  return runs("setarch", ["-R", "strace", "-o", "/dev/null", "true"]);
}

export interface Built {
  readonly dir: string;
  /** exe RPATH=dir/rp, needs libwho (in rp) which needs libdep (in rp). */
  readonly rpath: string;
  /** exe RUNPATH=dir/rp. */
  readonly runpath: string;
  /** exe RPATH=$ORIGIN/rp. */
  readonly origin: string;
  /** exe without paths (for LD_LIBRARY_PATH=dir/rp). */
  readonly plain: string;
  /** exe RPATH with every DST spelling: $ORIGIN, $LIB, ${PLATFORM}, an unknown $FOO, ${LIB}z. */
  readonly dst: string;
  /**
   * exe needs `nos/libnos.so` (a path, no soname) and libbb.so, which needs `nos/link.so`, a symlink
   * to the same file: found again by (st_dev, st_ino), not mapped twice. Run with cwd = dir.
   */
  readonly dedup: string;
  /** exe RPATH=dir/rp32:dir/rp where rp32 holds a 32-bit libwho.so (skipped), when i686 gcc exists. */
  readonly wrongClass: string | undefined;
  /** exe RPATH=dir/rp32 only: "wrong ELF class: ELFCLASS32". */
  readonly wrongClassOnly: string | undefined;
  /** Like `missing`, and rp/libw2.so needs libgone.so too: trace mode fakes it twice. */
  readonly missingTwice: string;
  /** exe RPATH=dir/rp, needs libgone.so which does not exist. */
  readonly missing: string;
  /** exe RPATH=dir/bad:dir/rp; tests put damaged files at dir/bad/libwho.so. */
  readonly badFirst: string;
  readonly badDir: string;
  /** exe RPATH of two directories that do not exist (run with LD_LIBRARY_PATH=dir/rp). */
  readonly deadRpath: string;
  readonly rp: string;
  /**
   * exe RPATH=dir/over, needs libover64k.so (max-page-size 64 KiB: holes between segments, an
   * over-aligned reservation to trim) and libover2m.so (2 MiB, with a multi-page .bss).
   */
  readonly overAligned: string;
}

/** Build the test programs with gcc in a fresh temporary directory. */
export function buildPrograms(): Built {
  const dir = mkdtempSync(join(tmpdir(), "ldsim-loader-"));
  const rp = join(dir, "rp");
  mkdirSync(rp);
  const gcc = (...a: string[]) => execFileSync("gcc", a, { cwd: dir, stdio: "pipe" });
  writeFileSync(join(dir, "dep.c"), "int dep(void){return 2;}\n");
  writeFileSync(join(dir, "who.c"), "int dep(void); int who(void){return dep();}\n");
  writeFileSync(join(dir, "gone.c"), "int gone(void){return 3;}\n");
  writeFileSync(join(dir, "m.c"), "int who(void); int main(void){return who();}\n");
  writeFileSync(join(dir, "mg.c"), "int who(void); int gone(void); int main(void){return who()+gone();}\n");
  gcc("-shared", "-fPIC", "-o", "rp/libdep.so", "dep.c", "-Wl,-soname,libdep.so");
  gcc("-shared", "-fPIC", "-o", "rp/libwho.so", "who.c", "-Wl,-soname,libwho.so", "-Lrp", "-ldep");
  gcc("-shared", "-fPIC", "-o", "libgone.so", "gone.c", "-Wl,-soname,libgone.so");
  const link = (out: string, src: string, ...extra: string[]) =>
    gcc("-o", out, src, "-Lrp", "-L.", "-lwho", "-Wl,-rpath-link,rp", ...extra);
  link("m_rpath", "m.c", `-Wl,--disable-new-dtags,-rpath,${rp}`);
  link("m_runpath", "m.c", `-Wl,--enable-new-dtags,-rpath,${rp}`);
  link("m_origin", "m.c", "-Wl,--disable-new-dtags,-rpath,$ORIGIN/rp");
  link("m_plain", "m.c");
  mkdirSync(join(dir, "bad"));
  link("m_bad", "m.c", `-Wl,--disable-new-dtags,-rpath,${join(dir, "bad")}:${rp}`);
  link("m_deadrpath", "m.c", "-Wl,--disable-new-dtags,-rpath,/nonexistent-ldsim-1:/nonexistent-ldsim-2");
  let wrongClass: string | undefined;
  let wrongClassOnly: string | undefined;
  try {
    mkdirSync(join(dir, "rp32"));
    execFileSync("i686-linux-gnu-gcc", ["-shared", "-fPIC", "-o", "rp32/libwho.so", "who.c", "-Wl,-soname,libwho.so"], {
      cwd: dir,
      stdio: "pipe",
    });
    link("m_class", "m.c", `-Wl,--disable-new-dtags,-rpath,${join(dir, "rp32")}:${rp}`);
    link("m_class_only", "m.c", `-Wl,--disable-new-dtags,-rpath,${join(dir, "rp32")}`);
    wrongClass = join(dir, "m_class");
    wrongClassOnly = join(dir, "m_class_only");
  } catch {
    // No i686 cross compiler: the wrong-class cases are skipped.
  }
  mkdirSync(join(dir, "nos"));
  writeFileSync(join(dir, "nos.c"), "int nos(void){return 4;}\n");
  writeFileSync(join(dir, "bb.c"), "int nos(void); int bb(void){return nos();}\n");
  writeFileSync(join(dir, "mn.c"), "int nos(void); int bb(void); int main(void){return nos()+bb();}\n");
  gcc("-shared", "-fPIC", "-o", "nos/libnos.so", "nos.c");
  symlinkSync("libnos.so", join(dir, "nos/link.so"));
  gcc("-shared", "-fPIC", "-o", "libbb.so", "bb.c", "-Wl,-soname,libbb.so", "nos/link.so");
  gcc("-o", "m_dedup", "mn.c", "nos/libnos.so", "-L.", "-lbb", `-Wl,--disable-new-dtags,-rpath,${dir}`);
  link("m_dst", "m.c", "-Wl,--disable-new-dtags,-rpath,$ORIGIN/exe:/x/$LIB/${PLATFORM}/$FOO:/y/${LIB}z:$ORIGIN/rp");
  link("m_missing", "mg.c", "-lgone", `-Wl,--disable-new-dtags,-rpath,${rp}`);
  writeFileSync(join(dir, "w2.c"), "int w2(void){return 6;}\n");
  writeFileSync(join(dir, "mw.c"), "int w2(void); int gone(void); int main(void){return w2()+gone();}\n");
  gcc("-shared", "-fPIC", "-o", "rp/libw2.so", "w2.c", "-Wl,-soname,libw2.so", "-Wl,--no-as-needed", "-L.", "-lgone");
  gcc("-o", "m_missing2", "mw.c", "-L.", "-Lrp", "-lgone", "-lw2", `-Wl,--disable-new-dtags,-rpath,${rp}`);
  mkdirSync(join(dir, "over"));
  writeFileSync(join(dir, "o64.c"), "int o64_data[3000] = {1}; int o64(void){return o64_data[7];}\n");
  writeFileSync(join(dir, "o2m.c"), "int o2m_bss[40000]; int o2m(void){return o2m_bss[9];}\n");
  writeFileSync(join(dir, "mo.c"), "int o64(void); int o2m(void); int main(void){return o64()+o2m();}\n");
  gcc("-shared", "-fPIC", "-o", "over/libover64k.so", "o64.c", "-Wl,-z,max-page-size=0x10000", "-Wl,-z,separate-code");
  gcc("-shared", "-fPIC", "-o", "over/libover2m.so", "o2m.c", "-Wl,-z,max-page-size=0x200000");
  gcc("-o", "m_over", "mo.c", "-Lover", "-lover64k", "-lover2m", `-Wl,--disable-new-dtags,-rpath,${join(dir, "over")}`);
  return {
    dir,
    rp,
    overAligned: join(dir, "m_over"),
    rpath: join(dir, "m_rpath"),
    runpath: join(dir, "m_runpath"),
    origin: join(dir, "m_origin"),
    plain: join(dir, "m_plain"),
    dst: join(dir, "m_dst"),
    dedup: join(dir, "m_dedup"),
    wrongClass,
    wrongClassOnly,
    missing: join(dir, "m_missing"),
    badFirst: join(dir, "m_bad"),
    badDir: join(dir, "bad"),
    deadRpath: join(dir, "m_deadrpath"),
    missingTwice: join(dir, "m_missing2"),
  };
}
