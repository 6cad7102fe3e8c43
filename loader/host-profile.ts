import { execFileSync } from "node:child_process";
import { DEBIAN12_X86_64, profileFromLdSoHelp, type RtldProfile } from "./rtld-profile.ts";

let cached: RtldProfile | undefined;

/**
 * The profile of the machine ldsim runs on: the hwcaps lists `ld.so --help` prints (they depend on
 * the CPU), the other facts from Debian 12's x86_64 glibc 2.36. Falls back to that profile when the
 * host loader cannot be asked. Used where the model is compared with the host (ldd, parity tests).
 */
export function hostRtldProfile(rtld = "/lib64/ld-linux-x86-64.so.2"): RtldProfile {
  if (cached) return cached;
  try {
    const help = execFileSync(rtld, ["--help"], { encoding: "latin1", stdio: ["ignore", "pipe", "ignore"] });
    cached = profileFromLdSoHelp(help, DEBIAN12_X86_64);
  } catch {
    cached = DEBIAN12_X86_64;
  }
  return cached;
}
