import type { AddressSpace } from "./address-space.ts";
import type { MappedInode, OpenFile } from "./vma.ts";

/**
 * The object behind MAP_SHARED|MAP_ANONYMOUS: shmem_zero_setup creates an unlinked tmpfs file named
 * "/dev/zero" on the internal shm mount (device 00:01), so maps prints `/dev/zero (deleted)`.
 * Its pages are shared by every VMA and fork child that maps it.
 */
class ShmemInode implements MappedInode {
  readonly devMajor = 0;
  readonly devMinor = 1;
  readonly path = "/dev/zero";
  readonly deleted = true;
  private readonly bytes: Map<number, Uint8Array> = new Map();
  constructor(
    readonly ino: number,
    readonly size: number,
    private readonly pageSize: number,
  ) {}
  read(offset: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const pos = offset + done;
      const pg = Math.floor(pos / this.pageSize);
      const inPage = pos - pg * this.pageSize;
      const n = Math.min(length - done, this.pageSize - inPage);
      const page = this.bytes.get(pg);
      if (page) out.set(page.subarray(inPage, inPage + n), done);
      done += n;
    }
    return out;
  }
  write(offset: number, data: Uint8Array): void {
    let done = 0;
    while (done < data.length) {
      const pos = offset + done;
      const pg = Math.floor(pos / this.pageSize);
      const inPage = pos - pg * this.pageSize;
      const n = Math.min(data.length - done, this.pageSize - inPage);
      let page = this.bytes.get(pg);
      if (!page) {
        page = new Uint8Array(this.pageSize);
        this.bytes.set(pg, page);
      }
      page.set(data.subarray(done, done + n), inPage);
      done += n;
    }
  }
}

export function createShmemFile(as: AddressSpace, length: number): OpenFile {
  return { inode: new ShmemInode(as.nextShmemIno++, length, as.pageSize), readable: true, writable: true };
}
