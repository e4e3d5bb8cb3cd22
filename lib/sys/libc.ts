/**
 * Synchronous C library calls through FFI, the one seam between TypeScript and the kernel.
 *
 * {@link libc} opens the C library once per thread (each Worker opens its own) with
 * `Deno.dlopen` on Deno and `bun:ffi` on Bun. Every call returns the C result (`-1` on
 * failure) and never throws; read {@link Libc.errno} right after a failure. Buffers are passed
 * as `Uint8Array`s (a `subarray` passes its own start), lengths as 32-bit numbers: the fast
 * path on both runtimes (no allocation per call).
 *
 * @module
 */

import { openBunLibc } from "./libc_bun.ts";
import { openDenoLibc } from "./libc_deno.ts";
import { runtimeName } from "./runtime.ts";

/** The C library functions the sys layer uses. All calls are synchronous and never throw. */
export interface Libc {
  /** Which runtime's FFI backs this instance. */
  readonly runtime: "deno" | "bun";
  /** errno of this thread, valid right after a call that returned -1. */
  errno(): number;
  /** `open(2)`; `path` must end with a NUL byte (see {@link cString}). */
  open(path: Uint8Array, flags: number): number;
  /** `close(2)`. */
  close(fd: number): number;
  /** `read(2)` of at most `len` bytes into `buf`. */
  read(fd: number, buf: Uint8Array, len: number): number;
  /** `write(2)` of the first `len` bytes of `buf`. */
  write(fd: number, buf: Uint8Array, len: number): number;
  /** `ioctl(2)` whose argument is a pointer to `arg`. */
  ioctl(fd: number, request: number, arg: Uint8Array): number;
  /** `fcntl(2)` with an integer argument. */
  fcntl(fd: number, cmd: number, arg: number): number;
  /** `poll(2)` over `nfds` `struct pollfd` (8 bytes each) in `fds`. */
  poll(fds: Uint8Array, nfds: number, timeoutMs: number): number;
  /** `socket(2)`. */
  socket(domain: number, type: number, protocol: number): number;
  /** `bind(2)`. */
  bind(fd: number, addr: Uint8Array, addrLen: number): number;
  /** `sendto(2)`; `addr` may be null for a connected socket. */
  sendto(
    fd: number,
    buf: Uint8Array,
    len: number,
    flags: number,
    addr: Uint8Array | null,
    addrLen: number,
  ): number;
  /**
   * `recvfrom(2)`. `addrLen` holds a 4-byte `socklen_t` set to the size of `addr` before the
   * call and to the source address length after it. Both may be null.
   */
  recvfrom(
    fd: number,
    buf: Uint8Array,
    len: number,
    flags: number,
    addr: Uint8Array | null,
    addrLen: Uint8Array | null,
  ): number;
  /**
   * `sendmmsg(2)` of `vlen` `struct mmsghdr` starting at `msgvec` (whose pointers must name
   * memory that never moves: an {@link mmap} mapping): the number of messages sent, or -1.
   */
  sendmmsg(fd: number, msgvec: Uint8Array, vlen: number, flags: number): number;
  /**
   * `recvmmsg(2)` into `vlen` `struct mmsghdr` at `msgvec` (pointers as for {@link sendmmsg}),
   * with no timeout: the number of messages received, or -1.
   */
  recvmmsg(fd: number, msgvec: Uint8Array, vlen: number, flags: number): number;
  /** `setsockopt(2)`. */
  setsockopt(fd: number, level: number, name: number, value: Uint8Array, len: number): number;
  /** `getsockopt(2)`; `len` is a 4-byte in/out `socklen_t`. */
  getsockopt(fd: number, level: number, name: number, value: Uint8Array, len: Uint8Array): number;
  /** `eventfd(2)`. */
  eventfd(initval: number, flags: number): number;
  /** `socketpair(2)`; the two fds are written to `fds` (8 bytes: two host-order int32). */
  socketpair(domain: number, type: number, protocol: number, fds: Uint8Array): number;
  /**
   * `mmap(2)` of `length` bytes: the mapping as an `ArrayBuffer` and its address (a number:
   * user-space addresses fit in 53 bits), or null on failure (see {@link errno}). The memory stays
   * at that address until {@link munmap}: the kernel may be given it (io_uring buffers).
   */
  mmap(
    length: number,
    prot: number,
    flags: number,
    fd: number,
    offset: number,
  ): { readonly buffer: ArrayBuffer; readonly address: number } | null;
  /** `munmap(2)` of a mapping made by {@link mmap}. */
  munmap(address: number, length: number): number;
  /** `io_uring_setup(2)`: `params` is a `struct io_uring_params` (120 bytes), in and out. */
  ioUringSetup(entries: number, params: Uint8Array): number;
  /** `io_uring_enter(2)` with no signal mask: submit, and wait for `minComplete` completions. */
  ioUringEnter(fd: number, toSubmit: number, minComplete: number, flags: number): number;
  /** `io_uring_register(2)` of `nrArgs` items in `arg`. */
  ioUringRegister(fd: number, opcode: number, arg: Uint8Array, nrArgs: number): number;
}

let cached: Libc | undefined;

/**
 * The C library of this thread, opened on first use (once per Worker). Throws `Error` on a
 * runtime without FFI.
 */
export function libc(): Libc {
  if (cached) return cached;
  const rt = runtimeName();
  if (rt === "bun") cached = openBunLibc();
  else if (rt === "deno") cached = openDenoLibc();
  else throw new Error(`Cannot open libc: no FFI on ${rt}`);
  return cached;
}

const encoder = new TextEncoder();

/** A NUL-terminated copy of `s` for C calls. */
export function cString(s: string): Uint8Array {
  const b = encoder.encode(s);
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}
