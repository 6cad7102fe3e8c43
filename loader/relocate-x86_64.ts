/**
 * x86_64 `elf_machine_rela`, `elf_machine_lazy_rel`, `elf_machine_runtime_setup` and
 * `elf_machine_type_class` (glibc 2.36 sysdeps/x86_64/dl-machine.h).
 */

import { SHN_UNDEF } from "../formats/elf/constants.ts";
import type { RelaRecord } from "../formats/elf/relocations.ts";
import { STT_GNU_IFUNC } from "../formats/elf/symbol-constants.ts";
import { callIfuncResolver } from "./ifunc.ts";
import type { LinkMap } from "./link-map.ts";
import type { ArchRelocator, RelocContext, Resolved } from "./relocate.ts";
import { badRelocType, minBig, symbolAddress } from "./relocate.ts";
import { ELF_RTYPE_CLASS_COPY, ELF_RTYPE_CLASS_PLT } from "./symbol-lookup.ts";
import { checkStaticTls, makeTlsdescDynamic, tryStaticTls } from "./tls.ts";

export const R_X86_64_NONE = 0;
export const R_X86_64_64 = 1;
export const R_X86_64_PC32 = 2;
export const R_X86_64_COPY = 5;
export const R_X86_64_GLOB_DAT = 6;
export const R_X86_64_JUMP_SLOT = 7;
export const R_X86_64_RELATIVE = 8;
export const R_X86_64_32 = 10;
export const R_X86_64_DTPMOD64 = 16;
export const R_X86_64_DTPOFF64 = 17;
export const R_X86_64_TPOFF64 = 18;
export const R_X86_64_SIZE32 = 32;
export const R_X86_64_SIZE64 = 33;
export const R_X86_64_TLSDESC = 36;
export const R_X86_64_IRELATIVE = 37;
export const R_X86_64_RELATIVE64 = 38;

/**
 * Where GOT[2] points for lazy binding: `_dl_runtime_resolve_xsavec` (the CPU has XSAVEC) in
 * Debian 12's ld-linux-x86-64.so.2 (glibc 2.36-9+deb12u14), as an offset from ld.so's l_addr.
 * Measured, not computed: ld.so has no .symtab to look it up in; a lazily bound non-PIE program
 * printing `_GLOBAL_OFFSET_TABLE_[2]` under `setarch -R` showed 0x7ffff7fdc290 with ld.so at
 * 0x7ffff7fca000. On another build or CPU (xsave/fxsave variants) it differs: a stand-in there.
 */
export const RUNTIME_RESOLVE_OFFSET = 0x12290n;
/** `_dl_tlsdesc_return` / `_dl_tlsdesc_undefweak` / `_dl_tlsdesc_dynamic`: unknown offsets, documented stand-ins (0). */
const TLSDESC_STANDIN = 0n;

function typeClass(type: number): number {
  if (
    type === R_X86_64_JUMP_SLOT ||
    type === R_X86_64_DTPMOD64 ||
    type === R_X86_64_DTPOFF64 ||
    type === R_X86_64_TPOFF64 ||
    type === R_X86_64_TLSDESC
  ) {
    return ELF_RTYPE_CLASS_PLT;
  }
  return type === R_X86_64_COPY ? ELF_RTYPE_CLASS_COPY : 0;
}

function rela(ctx: RelocContext, r: RelaRecord): void {
  const { map, rtld, info } = ctx;
  const at = map.addr + r.offset;
  const t = r.type;
  if (t === R_X86_64_RELATIVE || t === R_X86_64_RELATIVE64) {
    ctx.write64(at, map.addr + r.addend);
    return;
  }
  if (t === R_X86_64_NONE) return;
  if (t === R_X86_64_IRELATIVE) {
    ctx.write64(at, callIfuncResolver(rtld, map, map.addr + r.addend));
    return;
  }
  const refsym = info.symbol(r.sym);
  const res = ctx.resolve(r.sym, t);
  const sym = res.sym;
  let value = symbolAddress(res);
  if (sym && sym.type === STT_GNU_IFUNC && sym.shndx !== SHN_UNDEF && res.map) {
    value = ifuncValue(ctx, res, r.sym, value);
  }
  switch (t) {
    case R_X86_64_JUMP_SLOT:
    case R_X86_64_GLOB_DAT:
      ctx.write64(at, value);
      return;
    case R_X86_64_SIZE32:
      ctx.write32(at, (sym?.size ?? 0n) + r.addend);
      return;
    case R_X86_64_SIZE64:
      ctx.write64(at, (sym?.size ?? 0n) + r.addend);
      return;
    case R_X86_64_DTPMOD64:
      if (res.map) ctx.write64(at, BigInt(res.map.tlsModid));
      return;
    case R_X86_64_DTPOFF64:
      if (sym) ctx.write64(at, sym.value + r.addend);
      return;
    case R_X86_64_TLSDESC:
      // struct tlsdesc { entry; arg }: the static case (all startup modules) stores the TP offset.
      if (!sym) {
        ctx.write64(at, TLSDESC_STANDIN);
        ctx.write64(at + 8n, r.addend);
      } else if (res.map) {
        // TRY_STATIC_TLS (glibc 2.36 dl-machine.h, SHARED): only the optional surplus; without room
        // the descriptor goes dynamic (_dl_make_tlsdesc_dynamic, _dl_tlsdesc_dynamic) and loading goes on.
        const off = tryStaticTls(rtld, res.map);
        ctx.write64(at, TLSDESC_STANDIN);
        ctx.write64(
          at + 8n,
          off === undefined ? makeTlsdescDynamic(rtld, res.map, sym.value + r.addend) : sym.value - off + r.addend,
        );
      }
      return;
    case R_X86_64_TPOFF64:
      if (sym && res.map) {
        const off = checkStaticTls(rtld, res.map);
        ctx.write64(at, sym.value + r.addend - off);
      }
      return;
    case R_X86_64_64:
      ctx.write64(at, value + r.addend);
      return;
    case R_X86_64_32: {
      const v = BigInt.asUintN(64, value + r.addend);
      ctx.write32(at, v);
      if (v > 0xffffffffn) {
        ctx.warn(
          `${rtld.progname}: Symbol \`${info.string(refsym.nameOffset)}' causes overflow in R_X86_64_32 relocation`,
        );
      }
      return;
    }
    case R_X86_64_PC32: {
      const v = BigInt.asUintN(64, value + r.addend - at);
      ctx.write32(at, v);
      if (BigInt.asIntN(64, v) !== BigInt.asIntN(32, v)) {
        ctx.warn(
          `${rtld.progname}: Symbol \`${info.string(refsym.nameOffset)}' causes overflow in R_X86_64_PC32 relocation`,
        );
      }
      return;
    }
    case R_X86_64_COPY:
      if (!sym) return;
      ctx.copy(at, value, minBig(sym.size, refsym.size));
      if (sym.size > refsym.size) {
        ctx.warn(
          `${rtld.progname}: Symbol \`${info.string(refsym.nameOffset)}' has different size in shared object, consider re-linking`,
        );
      }
      return;
    default:
      throw badRelocType(map, t, false);
  }
}

/** elf_machine_rela's IFUNC step: a definition in an object not yet relocated is diagnosed, then its resolver is called. */
function ifuncValue(ctx: RelocContext, res: Resolved, symIdx: number, value: bigint): bigint {
  const { map, rtld, info } = ctx;
  const defMap = res.map as LinkMap;
  const name = info.string(info.symbol(symIdx).nameOffset);
  if (defMap !== map && !defMap.relocated) {
    if (defMap.type === "executable") {
      throw badIfunc(rtld.progname, name, map.name);
    }
    ctx.warn(`${rtld.progname}: Relink \`${map.name}' with \`${defMap.name}' for IFUNC symbol \`${name}'`);
  }
  return callIfuncResolver(rtld, defMap, value, name);
}

function badIfunc(progname: string, name: string, obj: string): Error {
  return new Error(
    `${progname}: IFUNC symbol '${name}' referenced in '${obj}' is defined in the executable and creates an unsatisfiable circular dependency.`,
  );
}

function lazyRel(ctx: RelocContext, r: RelaRecord): void {
  const { map } = ctx;
  const at = map.addr + r.offset;
  if (r.type === R_X86_64_JUMP_SLOT) {
    // The GOT slot points back into the PLT (push index; jmp PLT0): relocate that pointer only.
    ctx.write64(at, ctx.read64(at) + map.addr);
  } else if (r.type === R_X86_64_TLSDESC) {
    rela(ctx, r);
  } else if (r.type === R_X86_64_IRELATIVE) {
    ctx.write64(at, callIfuncResolver(ctx.rtld, map, map.addr + r.addend));
  } else throw badRelocType(map, r.type, true);
}

function runtimeSetup(ctx: RelocContext, lazy: boolean): void {
  if (!lazy) return;
  const got = ctx.info.pltgot;
  if (got === undefined) return;
  ctx.write64(got + 8n, linkMapAddress(ctx));
  ctx.write64(got + 16n, ctx.rtld.rtldMap.addr + RUNTIME_RESOLVE_OFFSET);
  const tg = ctx.info.tlsdescGot;
  if (tg !== undefined) ctx.write64(tg, TLSDESC_STANDIN);
}

/** The link map's address in ld.so's memory (its minimal-malloc calloc), when the map records it. */
export function linkMapAddress(ctx: RelocContext): bigint {
  return ctx.map.lmAddr ?? 0n;
}

export const X86_64_RELOCATOR: ArchRelocator = {
  name: "x86_64",
  relative: R_X86_64_RELATIVE,
  irelative: R_X86_64_IRELATIVE,
  globDat: R_X86_64_GLOB_DAT,
  jumpSlot: R_X86_64_JUMP_SLOT,
  abs64: R_X86_64_64,
  slotAddend: false,
  lazyJumpSlotFast: () => true,
  ifuncValue,
  typeClass,
  runtimeSetup,
  rela,
  lazyRel,
};
