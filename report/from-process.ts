import type { AddressSpace } from "../kernel-shim/mm/address-space.ts";
import { formatMapsLine, vmaName } from "../kernel-shim/mm/maps.ts";
import { VM_EXEC } from "../kernel-shim/mm/prot-flags.ts";
import type { SframeEvent } from "../kernel-shim/sframe/kernel-sframe.ts";
import type { ReportRegion, ReportSframeRange, SframeRangeState } from "./model.ts";

/** The address space's VMAs as report regions (permissions and names as /proc/pid/maps prints them). */
export function regionsOf(mm: AddressSpace): ReportRegion[] {
  return mm.vmas().map((v) => {
    const perms = formatMapsLine(mm, v).split(" ")[1] ?? "----";
    const name = vmaName(mm, v);
    return {
      start: BigInt(v.start),
      end: BigInt(v.end),
      perms,
      offset: BigInt(v.file ? v.pgoff * mm.pageSize : 0),
      ...(name !== undefined ? { name } : {}),
    };
  });
}

/**
 * Every successful registration in the kernel's event log, with how it stands now: removed by an
 * unregister or by the unwinder's fault handling, still registered, or still registered though its
 * text is no longer executable memory (stale). `live` is the registry's current content.
 */
export function sframeRangesOf(
  events: readonly SframeEvent[],
  mm: AddressSpace,
  live: readonly { readonly sframeStart: bigint; readonly textStart: bigint }[],
): ReportSframeRange[] {
  const out: ReportSframeRange[] = [];
  events.forEach((e, i) => {
    if (e.kind !== "register" || e.result !== 0) return;
    const stillLive = live.some((l) => l.sframeStart === e.sframeStart && l.textStart === e.textStart);
    let state: SframeRangeState;
    if (stillLive) {
      const vma = e.textStart <= BigInt(Number.MAX_SAFE_INTEGER) ? mm.findVma(Number(e.textStart)) : undefined;
      state = vma && (vma.flags & VM_EXEC) !== 0 ? "registered" : "stale";
    } else {
      const later = events
        .slice(i + 1)
        .find((x) => x.kind !== "register" && "sframeStart" in x && x.sframeStart === e.sframeStart);
      state = later?.kind === "auto-remove" ? "auto-removed" : "unregistered";
    }
    out.push({
      textStart: e.textStart,
      textEnd: e.textEnd,
      sframeStart: e.sframeStart,
      sframeEnd: e.sframeEnd,
      origin: e.origin,
      state,
      ...(e.label !== undefined ? { label: e.label } : {}),
    });
  });
  return out;
}
