import { Decoder, DecoderOptions, FlowControl } from "iced-x86";
import { EM_AARCH64, EM_X86_64, SHT_RELA } from "../../formats/elf/constants.ts";
import { decodeRelocations } from "../../formats/elf/relocations.ts";
import { dynamicSymbols } from "../../formats/elf/symbols.ts";
import { LdsimError } from "../../formats/errors.ts";
import type { MappedObject, ObjectSet } from "./mapped-object.ts";

/** A call instruction found in a function: where it is, where it returns to, what it calls. */
export interface CallSite {
  readonly at: bigint;
  readonly returnAddress: bigint;
  /** Direct target (run-time), or undefined for an indirect call. */
  readonly target: bigint | undefined;
  /** Name of the callee when resolvable: the symbol at the target, or the PLT slot's relocation symbol. */
  readonly callee: string | undefined;
}

const R_X86_64_JUMP_SLOT = 7;
const R_AARCH64_JUMP_SLOT = 1026;

/** GOT slot (link-time) → symbol name, from the object's JUMP_SLOT relocations. */
function jumpSlots(obj: MappedObject): Map<bigint, string> {
  const out = new Map<bigint, string>();
  const dyn = dynamicSymbols(obj.elf);
  const wanted = obj.elf.header.machine === EM_AARCH64 ? R_AARCH64_JUMP_SLOT : R_X86_64_JUMP_SLOT;
  for (const sec of obj.elf.sections) {
    if (sec.type !== SHT_RELA || !dyn) continue;
    const relocs = decodeRelocations(obj.elf.sectionData(sec), "rela", {
      is64: obj.elf.is64,
      littleEndian: obj.elf.littleEndian,
    });
    for (const r of relocs) if (r.type === wanted && r.sym > 0) out.set(r.offset, dyn.name(r.sym));
  }
  return out;
}

/**
 * The call instructions of function `fn` of `obj` (x86_64 via iced-x86; AArch64 BL/BLR decoded
 * directly), with each direct callee named — through the PLT stub's GOT slot when the call goes
 * through the PLT, as a real call between shared objects does.
 */
export function callSitesIn(obj: MappedObject, fn: string): CallSite[] {
  const f = obj.addressOf(fn);
  if (!f) throw new LdsimError(`${obj.path}: no function ${fn}`);
  const link = f.value - obj.bias;
  const bytes = readLinkBytes(obj, link, Number(f.size));
  const sites: Array<{ at: bigint; ret: bigint; target: bigint | undefined }> = [];
  if (obj.elf.header.machine === EM_X86_64) {
    const d = new Decoder(64, bytes, DecoderOptions.None);
    d.ip = f.value;
    const ins = d.decodeAll();
    for (const i of ins) {
      if (i.flowControl === FlowControl.Call) sites.push({ at: i.ip, ret: i.nextIP, target: i.nearBranchTarget });
      else if (i.flowControl === FlowControl.IndirectCall) sites.push({ at: i.ip, ret: i.nextIP, target: undefined });
      i.free();
    }
    d.free();
  } else if (obj.elf.header.machine === EM_AARCH64) {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let o = 0; o + 4 <= bytes.length; o += 4) {
      const w = dv.getUint32(o, obj.elf.littleEndian);
      const at = f.value + BigInt(o);
      if ((w & 0xfc000000) >>> 0 === 0x94000000) {
        const imm = BigInt.asIntN(28, BigInt((w & 0x03ffffff) << 2) & 0xfffffffn);
        sites.push({ at, ret: at + 4n, target: at + imm });
      } else if ((w & 0xfffffc1f) >>> 0 === 0xd63f0000) sites.push({ at, ret: at + 4n, target: undefined });
    }
  } else {
    throw new LdsimError(`${obj.path}: call-site search supports x86_64 and AArch64`);
  }
  const slots = jumpSlots(obj);
  return sites.map((s) => ({
    at: s.at,
    returnAddress: s.ret,
    target: s.target,
    callee: s.target === undefined ? undefined : calleeName(obj, s.target, slots),
  }));
}

function readLinkBytes(obj: MappedObject, link: bigint, size: number): Uint8Array {
  for (const p of obj.elf.programHeaders) {
    if (p.type === 1 && link >= p.vaddr && link + BigInt(size) <= p.vaddr + p.filesz) {
      return obj.elf.readBytes(Number(p.offset + (link - p.vaddr)), size, "function bytes");
    }
  }
  throw new LdsimError(`${obj.path}: function at 0x${link.toString(16)} is not in a loaded segment`);
}

function calleeName(obj: MappedObject, target: bigint, slots: Map<bigint, string>): string | undefined {
  const sym = obj.symbolize(target);
  if (sym && sym.offset === 0n) return sym.name;
  // A PLT stub: its jump reads a GOT slot that a JUMP_SLOT relocation names.
  if (obj.elf.header.machine === EM_X86_64) {
    const link = target - obj.bias;
    let bytes: Uint8Array;
    try {
      bytes = readLinkBytes(obj, link, 16);
    } catch {
      return undefined;
    }
    const d = new Decoder(64, bytes, DecoderOptions.None);
    d.ip = link;
    for (const i of d.decodeAll()) {
      const slot =
        i.flowControl === FlowControl.IndirectBranch && i.isIpRelMemoryOperand ? i.ipRelMemoryAddress : undefined;
      i.free();
      if (slot !== undefined) {
        d.free();
        const name = slots.get(slot);
        return name ? `${name}@plt` : undefined;
      }
    }
    d.free();
  }
  if (obj.elf.header.machine === EM_AARCH64) {
    // ld's AArch64 PLT entry: adrp x16, page; ldr x17, [x16, #off]; add x16, x16, #off; br x17.
    const link = target - obj.bias;
    let bytes: Uint8Array;
    try {
      bytes = readLinkBytes(obj, link, 8);
    } catch {
      return undefined;
    }
    const dv = new DataView(bytes.buffer, bytes.byteOffset, 8);
    const adrp = dv.getUint32(0, obj.elf.littleEndian);
    const ldr = dv.getUint32(4, obj.elf.littleEndian);
    if ((adrp & 0x9f000000) >>> 0 !== 0x90000000 || (ldr & 0xffc00000) >>> 0 !== 0xf9400000) return undefined;
    const immlo = BigInt((adrp >>> 29) & 3);
    const immhi = BigInt((adrp >>> 5) & 0x7ffff);
    const page = (link & ~0xfffn) + (BigInt.asIntN(21, (immhi << 2n) | immlo) << 12n);
    const slot = page + BigInt(((ldr >>> 10) & 0xfff) * 8);
    const name = slots.get(slot);
    return name ? `${name}@plt` : undefined;
  }
  return undefined;
}

/**
 * The return address a frame of `caller` holds while it calls `callee`: after the first direct call
 * to `callee` (or its PLT stub), else — when `allowIndirect` — after the first indirect call (a call
 * through a function pointer, as libb_deep calls its callback).
 */
export function returnAddressInto(objects: ObjectSet, caller: string, callee: string, allowIndirect = true): bigint {
  const obj = objects.objects.find((o) => o.addressOf(caller));
  if (!obj) throw new LdsimError(`no mapped object defines ${caller}`);
  const sites = callSitesIn(obj, caller);
  const direct = sites.find((s) => s.callee === callee || s.callee === `${callee}@plt`);
  if (direct) return direct.returnAddress;
  const indirect = allowIndirect ? sites.find((s) => s.target === undefined) : undefined;
  if (indirect) return indirect.returnAddress;
  throw new LdsimError(`${caller} has no call to ${callee}${allowIndirect ? " and no indirect call" : ""}`);
}
