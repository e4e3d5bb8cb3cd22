/**
 * Which JavaScript runtime this process runs on, and the few process facts the binaries print.
 * This file (like the rest of `lib/sys/`) is allowed to know about Deno and Bun.
 */
import process from "node:process";

/** The runtimes dstm supports. */
export type RuntimeName = "deno" | "bun" | "node";

/** The runtime this code is executing on. */
export function runtimeName(): RuntimeName {
  if (typeof (globalThis as { Deno?: unknown }).Deno !== "undefined") return "deno";
  if (process.versions.bun) return "bun";
  return "node";
}

/** `"deno 2.9.6"`, `"bun 1.4.5"` or `"node v20.1.0"`. */
export function runtimeVersion(): string {
  const name = runtimeName();
  if (name === "deno") {
    return `deno ${
      (globalThis as unknown as { Deno: { version: { deno: string } } }).Deno.version.deno
    }`;
  }
  if (name === "bun") return `bun ${process.versions.bun}`;
  return `node ${process.version}`;
}

/** `"linux x86_64"` style platform string. */
export function platform(): string {
  const arch = process.arch === "x64"
    ? "x86_64"
    : process.arch === "arm64"
    ? "aarch64"
    : process.arch;
  return `${process.platform} ${arch}`;
}

/** True when the process runs with effective uid 0. */
export function isRoot(): boolean {
  return typeof process.getuid === "function" && process.getuid() === 0;
}

/** True when running inside a `bun build --compile` or `deno compile` executable. */
export function isCompiled(): boolean {
  const name = runtimeName();
  if (name === "bun") return import.meta.url.includes("$bunfs") || import.meta.url.includes("~BUN");
  if (name === "deno") {
    const d = (globalThis as unknown as { Deno: { build: unknown; mainModule?: string } }).Deno;
    return typeof d.mainModule === "string" && d.mainModule.includes("deno-compile");
  }
  return false;
}
