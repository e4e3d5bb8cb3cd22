import { test } from "node:test";
import assert from "node:assert/strict";
import { parseJsonConfig, type Schema, validate } from "./schema.ts";
import type { ConfigIssue } from "./config_error.ts";
import { ConfigError } from "./config_error.ts";

const schema: Schema = {
  type: "object",
  fields: {
    pool: {
      type: "string",
      required: true,
      check: (s) => s.includes("/") ? undefined : "not a CIDR",
    },
    lifetime: { type: "integer", min: 1, max: 10080 },
    log: { type: "string", enum: ["text", "json"] },
    teps: {
      type: "array",
      items: {
        type: "object",
        fields: { name: { type: "string", required: true }, ipv6: { type: "string" } },
      },
    },
  },
};

test("config: a valid document has no issues", () => {
  const issues: ConfigIssue[] = [];
  validate(schema, { pool: "198.51.100.0/24", lifetime: 60, teps: [{ name: "a" }] }, "", issues);
  assert.deepEqual(issues, []);
});

test("config: every issue is reported with its path", () => {
  const issues: ConfigIssue[] = [];
  validate(
    schema,
    { pool: "x", lifetime: 1.5, log: "xml", teps: [{ ipv6: 1 }, {}], colour: "blue" },
    "",
    issues,
  );
  assert.deepEqual(issues, [
    { path: "pool", message: "not a CIDR" },
    { path: "lifetime", message: "expected an integer, got 1.5" },
    { path: "log", message: 'expected one of text, json, got "xml"' },
    { path: "teps[0].ipv6", message: "expected a string, got number" },
    { path: "teps[0].name", message: "is required" },
    { path: "teps[1].name", message: "is required" },
    { path: "colour", message: "unknown key" },
  ]);
  assert.match(new ConfigError(issues).message, /^invalid configuration: pool: not a CIDR; /);
});

test("config: JSON syntax errors become an issue", () => {
  const r = parseJsonConfig("{ nope", "server.json");
  assert.equal(r.ok, false);
  if (!r.ok) assert.equal(r.issue.path, "server.json");
});
