import { test } from "node:test";
import assert from "node:assert/strict";
import { readSysctl, sysctlPath, writeSysctl } from "./sysctl.ts";
import { SysError } from "./sys_error.ts";

test("sysctl: keys map to /proc/sys paths", () => {
  assert.equal(sysctlPath("net.ipv4.ip_forward"), "/proc/sys/net/ipv4/ip_forward");
  assert.equal(
    sysctlPath("/proc/sys/net/ipv6/conf/all/forwarding"),
    "/proc/sys/net/ipv6/conf/all/forwarding",
  );
  assert.throws(() => sysctlPath("../etc/passwd"), TypeError);
  assert.throws(() => sysctlPath("net"), TypeError);
});

test("sysctl: reads a parameter and reports a missing one as SysError", () => {
  assert.equal(readSysctl("kernel.ostype"), "Linux");
  assert.throws(
    () => readSysctl("net.ipv4.no_such_knob"),
    (e: unknown) => e instanceof SysError && e.code === "ENOENT",
  );
  assert.throws(
    () => writeSysctl("net.ipv4.no_such_knob", "1"),
    (e: unknown) => e instanceof SysError && e.code === "ENOENT",
  );
});
