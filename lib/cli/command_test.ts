import { test } from "node:test";
import assert from "node:assert/strict";
import { type CommandSpec, formatHelp, parseCommandLine } from "./command.ts";
import { runMain } from "./run_main.ts";

const spec: CommandSpec = {
  program: "dstm-test",
  summary: "a test program",
  description: "Does nothing.",
  flags: [
    { name: "pool", type: "string", value: "CIDR", help: "The pool." },
    { name: "tep", type: "string", multiple: true, value: "NAME", help: "A TEP." },
    { name: "allow-anonymous", type: "boolean", help: "Allow it." },
  ],
  examples: [["dstm-test --pool 198.51.100.0/24", "An example."]],
};

test("cli: parses values, repeatable flags and positionals", () => {
  const r = parseCommandLine(spec, [
    "ctl",
    "--pool",
    "198.51.100.0/24",
    "--tep",
    "a",
    "--tep=b",
    "--allow-anonymous",
    "leases",
  ]);
  assert.equal(r.kind, "run");
  if (r.kind !== "run") return;
  assert.equal(r.values.pool, "198.51.100.0/24");
  assert.deepEqual(r.values.tep, ["a", "b"]);
  assert.equal(r.values["allow-anonymous"], true);
  assert.deepEqual(r.positionals, ["ctl", "leases"]);
});

test("cli: help and version win", () => {
  assert.equal(parseCommandLine(spec, ["--pool", "x", "--help"]).kind, "help");
  assert.equal(parseCommandLine(spec, ["-V"]).kind, "version");
});

test("cli: usage errors name the bad flag in one line", () => {
  const unknown = parseCommandLine(spec, ["--pol", "x"]);
  assert.deepEqual(unknown, {
    kind: "usage-error",
    message: "unknown flag --pol (did you mean --pool?)",
  });
  const missing = parseCommandLine(spec, ["--pool"]);
  assert.deepEqual(missing, { kind: "usage-error", message: "--pool needs a value" });
  const empty = parseCommandLine(spec, ["--pool", " "]);
  assert.deepEqual(empty, { kind: "usage-error", message: "--pool needs a value" });
  const boolValue = parseCommandLine(spec, ["--allow-anonymous=yes"]);
  assert.equal(boolValue.kind, "usage-error");
  if (boolValue.kind === "usage-error") assert.match(boolValue.message, /--allow-anonymous/);
});

test("cli: help lists every flag and the examples", () => {
  const text = formatHelp(spec);
  for (const f of ["--pool CIDR", "--tep NAME (repeatable)", "--allow-anonymous", "--help"]) {
    assert.ok(text.includes(f), f);
  }
  assert.ok(text.includes("dstm-test --pool 198.51.100.0/24"));
});

test("cli: runMain maps outcomes to exit codes", async () => {
  const out: string[] = [];
  const err: string[] = [];
  const io = { out: (s: string) => out.push(s), err: (s: string) => err.push(s) };
  assert.equal(await runMain(spec, ["--bogus"], () => Promise.resolve(0), io), 2);
  assert.match(err.join(""), /^dstm-test: unknown flag --bogus \(see dstm-test --help\)\n$/);
  assert.equal(await runMain(spec, ["--version"], () => Promise.resolve(0), io), 0);
  assert.match(out.join(""), /^dstm-test \d+\.\d+\.\d+ \((deno|bun) /);
  const configError = Object.assign(new Error("bad"), { name: "ConfigError" });
  assert.equal(await runMain(spec, [], () => Promise.reject(configError), io), 78);
  const eperm = Object.assign(new Error("no"), { name: "SysError", code: "EPERM" });
  assert.equal(await runMain(spec, [], () => Promise.reject(eperm), io), 77);
  assert.equal(await runMain(spec, [], () => Promise.resolve(0), io), 0);
});
