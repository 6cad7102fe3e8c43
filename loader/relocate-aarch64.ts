/**
 * AArch64 `elf_machine_rela`, `elf_machine_lazy_rel`, `elf_machine_runtime_setup` and
 * `elf_machine_type_class` (glibc 2.36 sysdeps/aarch64/dl-machine.h). Unlike x86_64, GLOB_DAT and
 * JUMP_SLOT add the addend, and TPREL offsets are positive (variant I: TCB then blocks).
 */
import { SHN_UNDEF } from "../formats/elf/constants.ts";
import { DT_AARCH64_VARIANT_PCS } from "../formats/elf/dynamic-tags.ts";
import type { RelaRecord } from "../formats/elf/relocations.ts";
import { STO_AARCH64_VARIANT_PCS, STT_GNU_IFUNC } from "../formats/elf/symbol-constants.ts";
import { callIfuncResolver } from "./ifunc.ts";
import type { LinkMap } from "./link-map.ts";
import type { ArchRelocator, RelocContext, Resolved } from "./relocate.ts";
import { badRelocType, minBig, symbolAddress } from "./relocate.ts";
import { linkMapAddress } from "./relocate-x86_64.ts";
import { ELF_RTYPE_CLASS_COPY, ELF_RTYPE_CLASS_PLT } from "./symbol-lookup.ts";
import { checkStaticTls, makeTlsdescDynamic, tryStaticTls } from "./tls.ts";

export const R_AARCH64_NONE = 0;
export const R_AARCH64_ABS64 = 257;
export const R_AARCH64_COPY = 1024;
export const R_AARCH64_GLOB_DAT = 1025;
export const R_AARCH64_JUMP_SLOT = 1026;
export const R_AARCH64_RELATIVE = 1027;
export const R_AARCH64_TLS_DTPMOD = 1028;
export const R_AARCH64_TLS_DTPREL = 1029;
export const R_AARCH64_TLS_TPREL = 1030;
export const R_AARCH64_TLSDESC = 1031;
export const R_AARCH64_IRELATIVE = 1032;

/**
 * `_dl_runtime_resolve` (GOT[2]) and the TLS descriptor entry points live in ld.so's text at
 * offsets the model does not know for an aarch64 build: documented stand-ins (0).
 */
const AARCH64_STANDIN = 0n;

function typeClass(type: number): number {
  if (
    type === R_AARCH64_JUMP_SLOT ||
    type === R_AARCH64_TLS_DTPMOD ||
    type === R_AARCH64_TLS_DTPREL ||
    type === R_AARCH64_TLS_TPREL ||
    type === R_AARCH64_TLSDESC
  ) {
    return ELF_RTYPE_CLASS_PLT;
  }
  return type === R_AARCH64_COPY ? ELF_RTYPE_CLASS_COPY : 0;
}

function rela(ctx: RelocContext, r: RelaRecord): void {
  const { map, rtld, info } = ctx;
  const at = map.addr + r.offset;
  const t = r.type;
  if (t === R_AARCH64_RELATIVE) {
    ctx.write64(at, map.addr + r.addend);
    return;
  }
  if (t === R_AARCH64_NONE) return;
  if (t === R_AARCH64_IRELATIVE) {
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
    case R_AARCH64_COPY:
      if (!sym) return;
      ctx.copy(at, value, minBig(sym.size, refsym.size));
      if (sym.size > refsym.size) {
        ctx.warn(
          `${rtld.progname}: Symbol \`${info.string(refsym.nameOffset)}' has different size in shared object, consider re-linking`,
        );
      }
      return;
    case R_AARCH64_GLOB_DAT:
    case R_AARCH64_JUMP_SLOT:
    case R_AARCH64_ABS64:
      ctx.write64(at, value + r.addend);
      return;
    case R_AARCH64_TLSDESC:
      if (!sym) {
        ctx.write64(at, AARCH64_STANDIN);
        ctx.write64(at + 8n, r.addend);
      } else if (res.map) {
        // TRY_STATIC_TLS, as on x86_64: no room in the optional surplus → a dynamic descriptor.
        const off = tryStaticTls(rtld, res.map);
        ctx.write64(at, AARCH64_STANDIN);
        ctx.write64(
          at + 8n,
          off === undefined ? makeTlsdescDynamic(rtld, res.map, sym.value + r.addend) : sym.value + off + r.addend,
        );
      }
      return;
    case R_AARCH64_TLS_DTPMOD:
      if (res.map) ctx.write64(at, BigInt(res.map.tlsModid));
      return;
    case R_AARCH64_TLS_DTPREL:
      if (sym) ctx.write64(at, sym.value + r.addend);
      return;
    case R_AARCH64_TLS_TPREL:
      if (sym && res.map) {
        const off = checkStaticTls(rtld, res.map);
        ctx.write64(at, sym.value + r.addend + off);
      }
      return;
    default:
      throw badRelocType(map, t, false);
  }
}

/** elf_machine_rela's IFUNC step: the resolver's value. */
function ifuncValue(ctx: RelocContext, res: Resolved, symIdx: number, value: bigint): bigint {
  const { rtld, info } = ctx;
  return callIfuncResolver(rtld, res.map as LinkMap, value, info.string(info.symbol(symIdx).nameOffset));
}

function lazyRel(ctx: RelocContext, r: RelaRecord): void {
  const { map } = ctx;
  const at = map.addr + r.offset;
  if (r.type === R_AARCH64_JUMP_SLOT) {
    // Calls to variant-PCS functions cannot go through the lazy resolver (it clobbers registers
    // they preserve): bound now when the object has DT_AARCH64_VARIANT_PCS and the symbol is marked.
    if (ctx.info.has(DT_AARCH64_VARIANT_PCS) && (ctx.info.symbol(r.sym).other & STO_AARCH64_VARIANT_PCS) !== 0) {
      rela(ctx, r);
      return;
    }
    // The GOT slot holds PLT0's link-time address.
    ctx.write64(at, ctx.read64(at) + map.addr);
  } else if (r.type === R_AARCH64_TLSDESC) {
    rela(ctx, r);
  } else if (r.type === R_AARCH64_IRELATIVE) {
    ctx.write64(at, callIfuncResolver(ctx.rtld, map, map.addr + r.addend));
  } else throw badRelocType(map, r.type, true);
}

function runtimeSetup(ctx: RelocContext, lazy: boolean): void {
  if (!lazy) return;
  const got = ctx.info.pltgot;
  if (got === undefined) return;
  ctx.write64(got + 8n, linkMapAddress(ctx));
  ctx.write64(got + 16n, AARCH64_STANDIN);
}

export const AARCH64_RELOCATOR: ArchRelocator = {
  name: "aarch64",
  relative: R_AARCH64_RELATIVE,
  irelative: R_AARCH64_IRELATIVE,
  globDat: R_AARCH64_GLOB_DAT,
  jumpSlot: R_AARCH64_JUMP_SLOT,
  abs64: R_AARCH64_ABS64,
  slotAddend: true,
  // Variant-PCS JUMP_SLOTs are bound at once (lazyRel): only objects without DT_AARCH64_VARIANT_PCS take the plain path.
  lazyJumpSlotFast: (info) => !info.has(DT_AARCH64_VARIANT_PCS),
  ifuncValue,
  typeClass,
  runtimeSetup,
  rela,
  lazyRel,
};
