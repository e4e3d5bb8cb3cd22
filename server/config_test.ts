import { test } from "node:test";
import assert from "node:assert/strict";
import { loadServerConfig } from "./config.ts";

const files: Record<string, string> = {
  "users": "alice:secret:client\ntep1:t1pass:tep\ntep2:t2pass:tep\n",
  "good.json": JSON.stringify({
    pool: "198.51.100.0/24",
    teps: [{ name: "tep1", ipv6: "2001:db8:ffff::1", ipv4: "192.0.2.1" }],
    credentials: "users",
    lifetimeMinutes: 60,
  }),
  "bad.json": JSON.stringify({
    pool: "198.51.100.1/24",
    teps: [{ name: "tep1", ipv6: "2001:db8:ffff::x" }],
    lifetimeMinutes: 0,
    colour: "blue",
  }),
};
const read = (p: string) => {
  if (!(p in files)) throw new Error(`ENOENT: ${p}`);
  return files[p];
};

test("server config: file plus flags, flags win", () => {
  const r = loadServerConfig({ config: "good.json", lifetime: "30" }, read);
  assert.ok(r.ok, JSON.stringify(!r.ok && r.issues));
  if (!r.ok) return;
  assert.equal(r.config.pool, "198.51.100.0/24");
  assert.equal(r.config.lifetimeMinutes, 30);
  assert.deepEqual(r.config.listen, [{ host: "::", family: 6, port: 3653 }]);
  assert.equal(r.config.users.get("tep1")?.role, "tep");
});

test("server config: flags alone", () => {
  const r = loadServerConfig({
    pool: "198.51.100.0/24",
    tep: ["tep1,2001:db8:ffff::1,192.0.2.1", "tep2,2001:db8:ffff::2,192.0.2.2"],
    listen: ["[2001:db8:1::1]:3653", "127.0.0.1:3653"],
    "allow-anonymous": true,
  }, read);
  assert.ok(r.ok);
  if (!r.ok) return;
  assert.equal(r.config.teps.length, 2);
  assert.equal(r.config.listen[1].family, 4);
});

test("server config: every issue is listed with its path", () => {
  const r = loadServerConfig({ config: "bad.json", tep: ["tep9,nope"] }, read);
  assert.equal(r.ok, false);
  if (r.ok) return;
  const paths = r.issues.map((i) => i.path);
  for (const p of ["pool", "teps[0].ipv6", "teps[0].ipv4", "lifetimeMinutes", "colour", "--tep"]) {
    assert.ok(paths.includes(p), `${p} in ${paths.join(", ")}`);
  }
  assert.ok(r.issues.some((i) => i.path === "credentials"));
});

test("server config: a missing file is an issue, not a crash", () => {
  const r = loadServerConfig({ config: "missing.json" }, read);
  assert.equal(r.ok, false);
  if (!r.ok) assert.equal(r.issues[0].path, "missing.json");
});

test("server config: testing-only seconds override minutes; warnings for gaps", () => {
  const r = loadServerConfig({ config: "good.json" }, (p) =>
    p === "good.json"
      ? JSON.stringify({
        pool: "198.51.100.0/24",
        teps: [
          { name: "tep1", ipv6: "2001:db8:ffff::1", ipv4: "192.0.2.1" },
          { name: "tep9", ipv6: "2001:db8:ffff::9", ipv4: "192.0.2.9" },
        ],
        credentials: "users",
        lifetimeSeconds: 90,
        quarantineSeconds: 2,
      })
      : read(p));
  assert.ok(r.ok, JSON.stringify(!r.ok && r.issues));
  if (!r.ok) return;
  assert.equal(r.config.lifetimeMs, 90_000);
  assert.equal(r.config.lifetimeMinutes, 2);
  assert.equal(r.config.quarantineMs, 2000);
  const w = r.warnings.join("\n");
  assert.match(w, /TEP tep9 has no entry in the credentials file/);
  assert.match(w, /user tep2 has role tep but no TEP of that name/);
  assert.match(w, /no dnsServer/);
  assert.match(w, /testing only/);
});

test("server config: duplicate TEP addresses and a bad --log-level are issues", () => {
  const r = loadServerConfig({
    pool: "198.51.100.0/24",
    tep: ["tep1,2001:db8:ffff::1,192.0.2.1", "tep2,2001:db8:ffff:0::1,192.0.2.1"],
    "allow-anonymous": true,
    "log-level": "chatty",
  }, read);
  assert.equal(r.ok, false);
  if (r.ok) return;
  const paths = r.issues.map((i) => i.path);
  assert.ok(paths.includes("teps[1].ipv6"), paths.join(","));
  assert.ok(paths.includes("teps[1].ipv4"), paths.join(","));
  assert.ok(paths.includes("--log-level"), paths.join(","));
});
