import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import type { Addr, Op } from "./ops.ts";
import { opText } from "./ops.ts";
import { replay, TestInode } from "./replay.ts";

/**
 * THP placement vs the running kernel: mmdiff.c performs a table of mmaps whose lengths, file
 * offsets, hints and flags straddle the 2 MiB PMD (file mappings through thp_get_unmapped_area,
 * private anonymous ones through the 6.12+ PMD-multiple rule, MAP_SHARED anonymous through shmem),
 * printing every address and the whole /proc/self/maps; ldsim replays the same calls.
 *
 * The file's file system decides whether its mappings are aligned (ext4/xfs/btrfs hook
 * thp_get_unmapped_area; tmpfs with huge=never does not), so the test runs on every location it
 * can classify: os.tmpdir() and /dev/shm.
 */
const here = dirname(fileURLToPath(import.meta.url));

function has(cmd: string, args: string[]): boolean {
  return spawnSync(cmd, args, { stdio: "ignore" }).status === 0;
}
const hasGcc = has("gcc", ["--version"]);
const isX86 = process.arch === "x64" && process.platform === "linux";
const hasSetarch = hasGcc && isX86 && has("setarch", ["-R", "true"]);
const reason = !isX86 ? "not x86_64 Linux" : !hasGcc ? "gcc missing" : !hasSetarch ? "setarch -R unavailable" : "";
if (reason) console.warn(`THP mm differential test skipped: ${reason}`);

/** Whether mappings of files in `dir` are THP-aligned, or a reason why that cannot be told. */
function thpAlignOf(dir: string): boolean | string {
  const r = spawnSync("stat", ["-f", "-c", "%T", dir], { encoding: "utf8" });
  const type = r.status === 0 ? r.stdout.trim() : "";
  if (["ext2/ext3", "xfs", "btrfs"].includes(type)) return true;
  if (type === "tmpfs") {
    // shmem_get_unmapped_area aligns only when huge pages may be used for the mount.
    let shmem = "";
    try {
      shmem = readFileSync("/sys/kernel/mm/transparent_hugepage/shmem_enabled", "utf8");
    } catch {
      return false; // no CONFIG_TRANSPARENT_HUGEPAGE
    }
    const mounts = readFileSync("/proc/mounts", "utf8").split("\n");
    const mount = mounts
      .map((l) => l.split(" "))
      .filter((f) => f[2] === "tmpfs" && (dir === f[1] || dir.startsWith(`${f[1]}/`)))
      .sort((a, b) => (b[1] as string).length - (a[1] as string).length)[0];
    const opts = mount?.[3] ?? "";
    if (/\[(never|deny)\]/.test(shmem) && (!/huge=/.test(opts) || /huge=never/.test(opts))) return false;
    return `tmpfs with huge pages (${opts}; ${shmem.trim()}) not modelled`;
  }
  return `file system type '${type}' not classified`;
}

const WINDOW_PAGES = 0x1000;
const FILE_SIZE = 22000;
const M = (len: number, off: number, prot: number, flags: number, fd: 0 | 1 | 2, addr: Addr = { abs: 0n }): Op =>
  ({ op: "M", addr, len: BigInt(len), prot, flags, fd, off: BigInt(off) }) as const;

const MiB = 0x100000;
const PRIVATE = 0x02;
const SHARED = 0x01;
const ANON = 0x20;
const FIXED = 0x10;
const MAP_32BIT = 0x40;
const MAP_STACK = 0x20000;

/** Lengths around one and two PMDs, offsets around a PMD boundary. */
const LENGTHS = [2 * MiB - 0x1000, 2 * MiB, 2 * MiB + 0x1000, 3 * MiB, 4 * MiB - 0x1000, 4 * MiB, 6 * MiB + 0x5000];
const OFFSETS = [0, 0x1000, MiB, 2 * MiB - 0x1000, 2 * MiB, 3 * MiB];

function tableOps(): Op[] {
  const ops: Op[] = [];
  for (const len of LENGTHS) {
    for (const off of OFFSETS) ops.push(M(len, off, 1, PRIVATE, 2));
    ops.push(M(len, 0, 1, SHARED, 2), M(len, MiB, 3, SHARED, 1));
    ops.push(
      M(len, 0, 3, PRIVATE | ANON, 0),
      M(len, 0, 3, SHARED | ANON, 0),
      M(len, 0, 3, PRIVATE | ANON | MAP_STACK, 0),
    );
  }
  return ops;
}

/** Hints: free for the padded length (taken), free only for the length (padded search), occupied. */
function hintOps(): Op[] {
  const rel = (n: number) => ({ rel: BigInt(n) });
  return [
    M(0x1000, 0, 1, PRIVATE | ANON | FIXED, 0, rel(3 * MiB)),
    M(2 * MiB, 0, 1, PRIVATE, 2, rel(1 * MiB)), // fits 2 MiB, not 4 MiB: aligned elsewhere
    M(2 * MiB, 0, 1, PRIVATE, 2, rel(5 * MiB)), // fits padded: the hint as is
    M(3 * MiB, MiB, 1, PRIVATE, 2, rel(8 * MiB + 0x3000)),
    M(2 * MiB, 0x1000, 1, PRIVATE, 2, rel(4 * MiB)), // no whole aligned PMD: plain hint rules
    M(2 * MiB, 0, 3, PRIVATE | ANON, 0, rel(12 * MiB)), // anonymous with a hint: never aligned
    M(2 * MiB, 0, 3, PRIVATE | ANON, 0, rel(3 * MiB)), // occupied hint, anonymous: plain search
    M(2 * MiB, 0, 1, PRIVATE, 2, rel(3 * MiB)), // occupied hint, file: padded search
    M(4 * MiB, 2 * MiB, 1, PRIVATE | FIXED, 2, rel(0x7000)), // MAP_FIXED: as given
    M(2 * MiB, 0, 1, PRIVATE | MAP_32BIT, 2), // bottom-up in [1 GiB, 2 GiB), still aligned
    M(2 * MiB, 0, 3, PRIVATE | ANON | MAP_32BIT, 0),
    M(3 * MiB, MiB, 1, PRIVATE | MAP_32BIT, 2),
    // Hints below mmap_min_addr are raised to it (65536 with CONFIG_LSM_MMAP_MIN_ADDR, not the sysctl's 4096).
    M(0x1000, 0, 3, PRIVATE | ANON, 0, { abs: 0x1000n }),
    M(0x1000, 0, 3, PRIVATE | ANON, 0, { abs: 0x8000n }),
    M(2 * MiB, 0, 1, PRIVATE, 2, { abs: 0x2000n }),
    // Offsets beyond MAX_LFS_FILESIZE fail after placement (EOVERFLOW) whatever the padding.
    { op: "M", addr: { abs: 0n }, len: 4n * BigInt(MiB), prot: 1, flags: PRIVATE, fd: 2, off: 0x7fffffffffe00000n },
    { op: "M", addr: { abs: 0n }, len: 4n * BigInt(MiB), prot: 1, flags: PRIVATE, fd: 2, off: 0xfffffffffff00000n },
  ];
}

class FsInode extends TestInode {
  constructor(
    major: number,
    minor: number,
    ino: number,
    path: string,
    bytes: Uint8Array,
    readonly thpAlign: boolean,
  ) {
    super(major, minor, ino, path, bytes);
  }
}

describe.skipIf(reason !== "")("THP placement vs the real kernel", () => {
  const dir = mkdtempSync(join(tmpdir(), "ldsim-thp-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const exe = join(dir, "mmdiff");
  if (reason === "") execFileSync("gcc", ["-O1", "-Wall", "-o", exe, join(here, "mmdiff.c")]);

  /** Run `ops` on both; fail at the first differing line. Returns the addresses the kernel gave. */
  function compare(fileDir: string, thpAlign: boolean, ops: readonly Op[]): number[] {
    const file = join(fileDir, `ldsim-thp-data-${process.pid}`);
    const content = Uint8Array.from({ length: FILE_SIZE }, (_, i) => 1 + (i % 251));
    writeFileSync(file, content);
    try {
      const real = execFileSync(
        "sh",
        ["-c", `ulimit -s 8192; exec setarch -R "$0" "$1" "$2"`, exe, file, WINDOW_PAGES.toString(16)],
        { input: `${ops.map(opText).join("\n")}\n`, maxBuffer: 256 * 1024 * 1024 },
      )
        .toString()
        .split("\n")
        .slice(0, -1);
      const st = statSync(file, { bigint: true });
      const major = Number(((st.dev >> 8n) & 0xfffn) | ((st.dev >> 32n) & ~0xfffn));
      const minor = Number((st.dev & 0xffn) | ((st.dev >> 12n) & ~0xffn));
      const inode = new FsInode(major, minor, Number(st.ino), file, content.slice(), thpAlign);
      const mine = replay({
        initialMaps: real.slice(real.indexOf("MAPS") + 1, real.indexOf("END")),
        brk: Number.parseInt((real.find((l) => l.startsWith("BRK ")) ?? "BRK 0").slice(4), 16),
        windowPages: WINDOW_PAGES,
        rw: { inode, readable: true, writable: true },
        ro: { inode, readable: true, writable: false },
        ops,
      });
      const mask = (l: string) => l.replace(/ 00:01 \d+ +\/dev\/zero \(deleted\)$/, " 00:01 * /dev/zero (deleted)");
      const a = real.map(mask);
      const b = mine.map(mask);
      let opIndex = -1;
      const firstEnd = a.indexOf("END");
      for (let i = 0; i < Math.max(a.length, b.length); i++) {
        if (i > firstEnd && /^= /.test(a[i] ?? "")) opIndex++;
        if (a[i] !== b[i]) {
          const op = ops[opIndex];
          const ctx = (xs: string[]) => xs.slice(Math.max(0, i - 8), i + 3).join("\n");
          expect.fail(
            `first difference at line ${i}, op #${opIndex} ${op ? opText(op) : "(end)"}\nkernel:\n${ctx(a)}\nldsim:\n${ctx(b)}`,
          );
        }
      }
      return a.filter((l) => /^= [0-9a-f]+$/.test(l)).map((l) => Number.parseInt(l.slice(2), 16));
    } finally {
      rmSync(file, { force: true });
    }
  }

  for (const loc of [tmpdir(), "/dev/shm"]) {
    const align = existsSync(loc) ? thpAlignOf(loc) : `${loc} missing`;
    const why = typeof align === "string" ? align : "";
    if (why) console.warn(`THP differential on ${loc} skipped: ${why}`);
    const kind = align === true ? "aligned file system" : "file system without THP placement";
    it.skipIf(why !== "")(`${loc} (${kind}): sizes × offsets × flags table`, () => {
      const got = compare(loc, align === true, tableOps());
      // The kernel did align mappings (the table proves nothing on a kernel without THP).
      expect(got.filter((x) => x % (2 * MiB) === 0).length).toBeGreaterThan(align === true ? 20 : 3);
    });
    it.skipIf(why !== "")(`${loc} (${kind}): hints, MAP_FIXED, MAP_32BIT, huge offsets`, () => {
      compare(loc, align === true, hintOps());
    });
  }
});
