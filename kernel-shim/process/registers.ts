import type { MmArch } from "../mm/layout-constants.ts";

/**
 * The user register state a task resumes with (pt_regs): program counter, stack pointer and the
 * general registers, all zero after exec except pc/sp (ELF_PLAT_INIT on x86_64 clears every GPR;
 * arm64 and s390x start_thread likewise). The TLS base is kept on the Process (fs base on x86_64,
 * tpidr_el0 on arm64, access registers on s390x), set by arch_prctl/set_tls, not by exec.
 */
export interface Registers {
  pc: bigint;
  sp: bigint;
  /** x86_64: rax..r15 in pt_regs order; aarch64: x0..x30; s390x: r0..r15. */
  readonly general: bigint[];
}

const GPR_COUNT: Readonly<Record<MmArch, number>> = { x86_64: 16, aarch64: 31, s390x: 16 };

export function zeroRegisters(arch: MmArch): Registers {
  return { pc: 0n, sp: 0n, general: new Array<bigint>(GPR_COUNT[arch]).fill(0n) };
}

export function copyRegisters(r: Registers): Registers {
  return { pc: r.pc, sp: r.sp, general: r.general.slice() };
}
