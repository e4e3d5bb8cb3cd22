/**
 * {@link Libc} over `bun:ffi`. The module is loaded with Bun's synchronous
 * `import.meta.require` from a string Deno's type checker never resolves, and typed by the small
 * local declaration below (only what this file uses). Works inside `bun build --compile`
 * binaries and in Workers.
 *
 * @module
 */

import type { Libc } from "./libc.ts";

type BunFfiType = "i32" | "u32" | "i64" | "u64" | "ptr";
interface BunSymbolSpec {
  args: readonly BunFfiType[];
  returns: BunFfiType;
}
type BunPtrArg = Uint8Array | null;
interface BunLibcSymbols {
  __errno_location(): number;
  open(path: BunPtrArg, flags: number): number;
  close(fd: number): number;
  read(fd: number, buf: BunPtrArg, len: number): number;
  write(fd: number, buf: BunPtrArg, len: number): number;
  ioctl(fd: number, request: number, arg: BunPtrArg): number;
  fcntl(fd: number, cmd: number, arg: number): number;
  poll(fds: BunPtrArg, nfds: number, timeout: number): number;
  socket(domain: number, type: number, protocol: number): number;
  bind(fd: number, addr: BunPtrArg, len: number): number;
  sendto(
    fd: number,
    buf: BunPtrArg,
    len: number,
    flags: number,
    addr: BunPtrArg,
    addrLen: number,
  ): number;
  recvfrom(
    fd: number,
    buf: BunPtrArg,
    len: number,
    flags: number,
    addr: BunPtrArg,
    addrLen: BunPtrArg,
  ): number;
  sendmmsg(fd: number, msgvec: BunPtrArg, vlen: number, flags: number): number;
  recvmmsg(fd: number, msgvec: BunPtrArg, vlen: number, flags: number, timeout: BunPtrArg): number;
  setsockopt(fd: number, level: number, name: number, value: BunPtrArg, len: number): number;
  getsockopt(fd: number, level: number, name: number, value: BunPtrArg, len: BunPtrArg): number;
  eventfd(initval: number, flags: number): number;
  socketpair(domain: number, type: number, protocol: number, fds: BunPtrArg): number;
  mmap(
    addr: BunPtrArg,
    length: number,
    prot: number,
    flags: number,
    fd: number,
    offset: number,
  ): number | null;
  munmap(addr: number, length: number): number;
}
interface BunFfi {
  dlopen(
    path: string,
    symbols: Record<string, BunSymbolSpec>,
  ): { symbols: BunLibcSymbols; close(): void };
  toArrayBuffer(ptr: number, byteOffset: number, byteLength: number): ArrayBuffer;
}

const SYMBOLS: Record<keyof BunLibcSymbols, BunSymbolSpec> = {
  __errno_location: { args: [], returns: "ptr" },
  open: { args: ["ptr", "i32"], returns: "i32" },
  close: { args: ["i32"], returns: "i32" },
  read: { args: ["i32", "ptr", "u32"], returns: "i32" },
  write: { args: ["i32", "ptr", "u32"], returns: "i32" },
  ioctl: { args: ["i32", "u64", "ptr"], returns: "i32" },
  fcntl: { args: ["i32", "i32", "i32"], returns: "i32" },
  poll: { args: ["ptr", "u32", "i32"], returns: "i32" },
  socket: { args: ["i32", "i32", "i32"], returns: "i32" },
  bind: { args: ["i32", "ptr", "u32"], returns: "i32" },
  sendto: { args: ["i32", "ptr", "u32", "i32", "ptr", "u32"], returns: "i32" },
  recvfrom: { args: ["i32", "ptr", "u32", "i32", "ptr", "ptr"], returns: "i32" },
  sendmmsg: { args: ["i32", "ptr", "u32", "i32"], returns: "i32" },
  recvmmsg: { args: ["i32", "ptr", "u32", "i32", "ptr"], returns: "i32" },
  setsockopt: { args: ["i32", "i32", "i32", "ptr", "u32"], returns: "i32" },
  getsockopt: { args: ["i32", "i32", "i32", "ptr", "ptr"], returns: "i32" },
  eventfd: { args: ["u32", "i32"], returns: "i32" },
  socketpair: { args: ["i32", "i32", "i32", "ptr"], returns: "i32" },
  mmap: { args: ["ptr", "u64", "i32", "i32", "i32", "i64"], returns: "ptr" },
  munmap: { args: ["ptr", "u64"], returns: "i32" },
};

/**
 * syscall(2) under the two signatures io_uring needs; Bun names a symbol by its key, so each
 * signature is its own `dlopen` of the C library. The result is the C `long` truncated to 32 bits.
 */
const SYSCALL_SETUP: Record<string, BunSymbolSpec> = {
  syscall: { args: ["i64", "u32", "ptr"], returns: "i32" },
};
const SYSCALL_ENTER: Record<string, BunSymbolSpec> = {
  syscall: { args: ["i64", "i32", "u32", "u32", "u32", "ptr", "u64"], returns: "i32" },
};
const SYSCALL_REGISTER: Record<string, BunSymbolSpec> = {
  syscall: { args: ["i64", "u32", "u32", "ptr", "u32"], returns: "i32" },
};
/** io_uring system call numbers (the same on every architecture). */
const SYS_IO_URING_SETUP = 425;
const SYS_IO_URING_ENTER = 426;
const SYS_IO_URING_REGISTER = 427;

const BUN_FFI = "bun:ffi";

/** Open the C library of this thread with Bun's FFI. */
export function openBunLibc(): Libc {
  const req = (import.meta as unknown as { require(id: string): unknown }).require;
  const ffi = req(BUN_FFI) as BunFfi;
  const lib = ffi.dlopen("libc.so.6", SYMBOLS);
  const s = lib.symbols;
  const errnoPtr = s.__errno_location();
  if (!errnoPtr) throw new Error("Cannot open libc: __errno_location returned NULL");
  // errno is thread-local and its address is fixed for the thread: map it once.
  const errnoCell = new Int32Array(ffi.toArrayBuffer(errnoPtr, 0, 4));
  let setup: SyscallFns["syscall"] | undefined;
  let enter: SyscallFns["syscall"] | undefined;
  let register: SyscallFns["syscall"] | undefined;
  return {
    runtime: "bun",
    errno: () => errnoCell[0],
    open: (path, flags) => s.open(path, flags),
    close: (fd) => s.close(fd),
    read: (fd, buf, len) => s.read(fd, buf, len),
    write: (fd, buf, len) => s.write(fd, buf, len),
    ioctl: (fd, request, arg) => s.ioctl(fd, request, arg),
    fcntl: (fd, cmd, arg) => s.fcntl(fd, cmd, arg),
    poll: (fds, nfds, timeoutMs) => s.poll(fds, nfds, timeoutMs),
    socket: (domain, type, protocol) => s.socket(domain, type, protocol),
    bind: (fd, addr, addrLen) => s.bind(fd, addr, addrLen),
    sendto: (fd, buf, len, flags, addr, addrLen) => s.sendto(fd, buf, len, flags, addr, addrLen),
    recvfrom: (fd, buf, len, flags, addr, addrLen) =>
      s.recvfrom(fd, buf, len, flags, addr, addrLen),
    sendmmsg: (fd, msgvec, vlen, flags) => s.sendmmsg(fd, msgvec, vlen, flags),
    recvmmsg: (fd, msgvec, vlen, flags) => s.recvmmsg(fd, msgvec, vlen, flags, null),
    setsockopt: (fd, level, name, value, len) => s.setsockopt(fd, level, name, value, len),
    getsockopt: (fd, level, name, value, len) => s.getsockopt(fd, level, name, value, len),
    eventfd: (initval, flags) => s.eventfd(initval, flags),
    socketpair: (domain, type, protocol, fds) => s.socketpair(domain, type, protocol, fds),
    mmap(length, prot, flags, fd, offset) {
      const p = s.mmap(null, length, prot, flags, fd, offset);
      // NULL or MAP_FAILED ((void *)-1, read as 2^64).
      if (!p || p >= 2 ** 63) return null;
      return { buffer: ffi.toArrayBuffer(p, 0, length), address: p };
    },
    munmap: (address, length) => s.munmap(address, length),
    ioUringSetup(entries, params) {
      setup ??= (ffi.dlopen("libc.so.6", SYSCALL_SETUP).symbols as unknown as SyscallFns).syscall;
      return setup(SYS_IO_URING_SETUP, entries, params);
    },
    ioUringEnter(fd, toSubmit, minComplete, flags) {
      enter ??= (ffi.dlopen("libc.so.6", SYSCALL_ENTER).symbols as unknown as SyscallFns).syscall;
      return enter(SYS_IO_URING_ENTER, fd, toSubmit, minComplete, flags, null, 0);
    },
    ioUringRegister(fd, opcode, arg, nrArgs) {
      register ??=
        (ffi.dlopen("libc.so.6", SYSCALL_REGISTER).symbols as unknown as SyscallFns).syscall;
      return register(SYS_IO_URING_REGISTER, fd, opcode, arg, nrArgs);
    },
  };
}

interface SyscallFns {
  syscall(...args: (number | Uint8Array | null)[]): number;
}
