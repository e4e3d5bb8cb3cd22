import { Errno, errnoName, errnoText } from "./errno.ts";

/**
 * A failed operating-system operation: a system call, an ioctl, or a request the kernel
 * refused over rtnetlink.
 *
 * `errno` is the Linux error number, `code` its symbolic name (`"EEXIST"`), `op` says what was
 * attempted (`"add address 10.0.0.1/24 dev tun0"`). A permission failure (`EPERM`, `EACCES`)
 * names the missing capability in the message and sets {@link SysError.permissionDenied}; the
 * binaries exit with code 77 on it.
 *
 * @example
 * ```ts
 * try {
 *   await nl.addAddress({ dev: "tun0", address: "10.0.0.1", prefixLength: 24 });
 * } catch (e) {
 *   if (e instanceof SysError && e.code === "EEXIST") { /* already there *\/ }
 *   else throw e;
 * }
 * ```
 */
export class SysError extends Error {
  /** Linux errno value, e.g. 17. */
  readonly errno: number;
  /** Symbolic errno name, e.g. `"EEXIST"`. */
  readonly code: string;
  /** The operation that failed, e.g. `"add route 10.1.0.0/16 dev tun0"`. */
  readonly op: string;
  /** Extra text from the kernel (netlink extended ack), if any. */
  readonly detail: string | undefined;

  /**
   * @param op what was attempted
   * @param errno positive Linux errno value
   * @param detail optional extra text (for instance the kernel's extended ack message)
   */
  constructor(op: string, errno: number, detail?: string) {
    const code = errnoName(errno);
    let message = `${op}: ${code} (${errnoText(errno)})`;
    if (detail) message += `: ${detail}`;
    if (errno === Errno.EPERM || errno === Errno.EACCES) {
      // Raw sockets need CAP_NET_RAW; TUN devices, netlink changes and sysctls CAP_NET_ADMIN.
      const cap = /\braw\b/i.test(op) ? "CAP_NET_RAW" : "CAP_NET_ADMIN";
      message += `; this needs ${cap} (run as root or grant the capability)`;
    }
    super(message);
    this.name = "SysError";
    this.errno = errno;
    this.code = code;
    this.op = op;
    this.detail = detail;
  }

  /** True for `EPERM`/`EACCES`: the process lacks a capability (binaries exit with 77). */
  get permissionDenied(): boolean {
    return this.errno === Errno.EPERM || this.errno === Errno.EACCES;
  }
}

/** Exit code the binaries use when a {@link SysError} says a capability is missing. */
export const EXIT_NO_PERMISSION = 77;
