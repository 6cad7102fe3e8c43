import type { World, WorldOptions } from "../world.ts";

/** A process lifecycle run identically under every design. */
export interface Workload {
  readonly name: string;
  readonly title: string;
  /** What it models and how, in two or three sentences (printed with the table). */
  readonly description: string;
  /** World options (shared by every design's run). */
  worldOptions?(): WorldOptions;
  run(world: World): void;
}
