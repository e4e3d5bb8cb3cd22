/**
 * Packet-sized reads and writes on a file descriptor, for hot loops: results are numbers
 * (`-errno` on failure, `-EAGAIN` when a nonblocking fd has nothing), never exceptions, and
 * nothing is allocated per call.
 *
 * @module
 */

import type { Libc } from "./libc.ts";
import { LINUX } from "./linux_constants.ts";
import { SysError } from "./sys_error.ts";

/** Read one packet into `buf`: its length, or `-errno` (`-EAGAIN` when none is waiting). */
export function readPacket(c: Libc, fd: number, buf: Uint8Array): number {
  const n = c.read(fd, buf, buf.length);
  return n >= 0 ? n : -c.errno();
}

/** Write the first `len` bytes of `buf` as one packet: `len`, or `-errno`. */
export function writePacket(c: Libc, fd: number, buf: Uint8Array, len: number): number {
  const n = c.write(fd, buf, len);
  return n >= 0 ? n : -c.errno();
}

/** Set or clear O_NONBLOCK on `fd`; throws {@link SysError}. */
export function setNonBlocking(c: Libc, fd: number, on: boolean): void {
  const flags = c.fcntl(fd, LINUX.F_GETFL, 0);
  if (flags < 0) throw new SysError(`get flags of fd ${fd}`, c.errno());
  const next = on ? flags | LINUX.O_NONBLOCK : flags & ~LINUX.O_NONBLOCK;
  if (next !== flags && c.fcntl(fd, LINUX.F_SETFL, next) < 0) {
    throw new SysError(`set O_NONBLOCK on fd ${fd}`, c.errno());
  }
}
