import { test } from "node:test";
import assert from "node:assert/strict";
import { controlPath, DEFAULT_CONTROL, interfaceName, loadClientConfig } from "./config.ts";
import { formatCidr4, formatCidr6 } from "../lib/addr/mod.ts";

const files: Record<string, string> = {
  "creds": "# mine\nalice:s3cret:with:colons\n",
  "up.sh": "#!/bin/sh\n",
  "good.json": JSON.stringify({
    server: "[2001:db8:1::1]:3653",
    interface: "dstm7",
    routes: ["203.0.113.0/24", "default"],
    credentials: "creds",
    tepPrefixes: ["2001:db8:ffff::/48"],
    keepaliveSeconds: 2,
    leaseCapSeconds: 6,
    control: "/tmp/c.sock",
  }),
  "bad.json": JSON.stringify({
    server: "192.0.2.1:3653",
    interface: "this-name-is-far-too-long",
    routes: ["10.0.0.1/8"],
    tepPrefixes: ["2001:db8::x/48"],
    mtu: 20,
    colour: "blue",
  }),
};
const read = (p: string) => {
  if (!(p in files)) throw new Error(`ENOENT: ${p}`);
  return files[p];
};
const isFile = (p: string) => p in files;

test("client config: file plus flags, flags win, credentials file read", () => {
  const r = loadClientConfig(
    { config: "good.json", interface: "dstm9", route: ["198.18.0.0/15"] },
    read,
    isFile,
  );
  assert.ok(r.ok, JSON.stringify(!r.ok && r.issues));
  const c = r.config;
  assert.equal(c.serverHost, "2001:db8:1::1");
  assert.equal(c.serverPort, 3653);
  assert.equal(c.interfaceName, "dstm9");
  assert.deepEqual(c.routes.map(formatCidr4), ["198.18.0.0/15"]);
  assert.deepEqual(c.credentials, { user: "alice", password: "s3cret:with:colons" });
  assert.equal(c.mechanism, "DIGEST-MD5");
  assert.deepEqual(c.tepPrefixes.map(formatCidr6), ["2001:db8:ffff::/48"]);
  assert.equal(c.keepaliveSeconds, 2);
  assert.equal(c.leaseCapMs, 6000);
  assert.equal(c.control, "/tmp/c.sock");
  assert.ok(r.warnings.some((w) => w.includes("testing only")));
});

test("client config: defaults from flags alone; ANONYMOUS without credentials", () => {
  const r = loadClientConfig({ server: "[2001:db8:1::1]" }, read, isFile);
  assert.ok(r.ok);
  const c = r.config;
  assert.equal(c.serverPort, 3653);
  assert.equal(c.interfaceName, "dstm0");
  assert.deepEqual(c.routes.map(formatCidr4), ["0.0.0.0/0"]);
  assert.equal(c.mechanism, "ANONYMOUS");
  assert.equal(c.credentials, undefined);
  assert.equal(c.mtu, 1460);
  assert.equal(c.source, undefined);
  assert.equal(c.control, DEFAULT_CONTROL);
  assert.deepEqual(c.tepPrefixes, []);
  assert.ok(r.warnings.some((w) => w.includes("ANONYMOUS")));
});

test("client config: inline credentials, source canonicalised, MTU flag", () => {
  const r = loadClientConfig(
    {
      server: "[2001:DB8:1:0::1]:4000",
      credentials: "bob:pw",
      source: "2001:db8:100:0:0:0:0:10",
      mtu: "1400",
    },
    read,
    isFile,
  );
  assert.ok(r.ok);
  assert.equal(r.config.serverHost, "2001:db8:1::1");
  assert.equal(r.config.serverPort, 4000);
  assert.deepEqual(r.config.credentials, { user: "bob", password: "pw" });
  assert.equal(r.config.source, "2001:db8:100::10");
  assert.equal(r.config.mtu, 1400);
});

test("client config: every issue is reported with its path, and no secret is echoed", () => {
  const r = loadClientConfig({ config: "bad.json", credentials: "nocolon-secret" }, read, isFile);
  assert.ok(!r.ok);
  const paths = r.issues.map((i) => i.path).sort();
  for (const p of ["colour", "interface", "mtu", "routes[0]", "server", "tepPrefixes[0]"]) {
    assert.ok(paths.includes(p), `missing issue at ${p}: ${JSON.stringify(r.issues)}`);
  }
  assert.ok(paths.includes("--credentials"));
  assert.ok(!JSON.stringify(r.issues).includes("nocolon-secret"));
});

test("client config: flag errors name the flag; server is required; hooks must exist", () => {
  const r = loadClientConfig(
    {
      route: ["300.0.0.0/8"],
      "tep-prefix": ["nope"],
      mtu: "9x",
      "log-format": "xml",
      up: "missing.sh",
    },
    read,
    isFile,
  );
  assert.ok(!r.ok);
  const paths = r.issues.map((i) => i.path);
  for (const p of ["server", "--route", "--tep-prefix", "--mtu", "--log-format", "--up"]) {
    assert.ok(paths.includes(p), `missing ${p}: ${JSON.stringify(r.issues)}`);
  }
  const ok = loadClientConfig({ server: "[2001:db8:1::1]:3653", up: "up.sh" }, read, isFile);
  assert.ok(ok.ok);
});

test("client config: ctl and cleanup read only what they need", () => {
  assert.equal(controlPath({ control: "/x.sock" }, read), "/x.sock");
  assert.equal(controlPath({ config: "good.json" }, read), "/tmp/c.sock");
  assert.equal(controlPath({}, read), DEFAULT_CONTROL);
  assert.equal(interfaceName({ config: "good.json" }, read), "dstm7");
  assert.equal(interfaceName({}, read), "dstm0");
  assert.throws(() => interfaceName({ interface: "a/b" }, read), { name: "ConfigError" });
});
