/**
 * Kernel parameters under `/proc/sys` (per network namespace for `net.*`), read and written
 * with `node:fs` (paths work on both runtimes). The TEP turns on IPv4 and IPv6 forwarding.
 *
 * @module
 */

import fs from "node:fs";
import { Errno, errnoByName } from "./errno.ts";
import { SysError } from "./sys_error.ts";

/** `/proc/sys/...` path of a dotted key (`"net.ipv4.ip_forward"`), or the path itself. */
export function sysctlPath(key: string): string {
  if (key.startsWith("/proc/sys/")) return key;
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+$/.test(key)) {
    throw new TypeError(`Cannot use sysctl key ${JSON.stringify(key)}`);
  }
  return `/proc/sys/${key.replaceAll(".", "/")}`;
}

function sysError(op: string, e: unknown): SysError {
  const code = (e as { code?: unknown })?.code;
  const errno = typeof code === "string" ? errnoByName(code) : undefined;
  return new SysError(op, errno ?? Errno.EIO, errno ? undefined : String(e));
}

/** Read a parameter (trailing newline removed); throws {@link SysError}. */
export function readSysctl(key: string): string {
  const path = sysctlPath(key);
  try {
    return fs.readFileSync(path, "utf8").trimEnd();
  } catch (e) {
    throw sysError(`read ${path}`, e);
  }
}

/** Write a parameter; throws {@link SysError} (EACCES/EPERM name the missing capability). */
export function writeSysctl(key: string, value: string): void {
  const path = sysctlPath(key);
  try {
    fs.writeFileSync(path, value + "\n");
  } catch (e) {
    throw sysError(`write ${value} to ${path}`, e);
  }
}

/** Which forwarding switches {@link enableForwarding} sets. */
export interface ForwardingOptions {
  /** `net.ipv4.ip_forward` (default true). */
  ipv4?: boolean;
  /** `net.ipv6.conf.all.forwarding` (default true). */
  ipv6?: boolean;
}

/** Turn on IP forwarding in the current network namespace (needed by the TEP). */
export function enableForwarding(options: ForwardingOptions = {}): void {
  if (options.ipv4 ?? true) writeSysctl("net.ipv4.ip_forward", "1");
  if (options.ipv6 ?? true) writeSysctl("net.ipv6.conf.all.forwarding", "1");
}
