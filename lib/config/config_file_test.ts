import { test } from "node:test";
import assert from "node:assert/strict";
import { readConfigFile } from "./config_file.ts";
import type { ConfigIssue } from "./config_error.ts";
import type { Schema } from "./schema.ts";

const schema: Schema = { type: "object", fields: { pool: { type: "string" } } };
const files: Record<string, string> = {
  "a.json": '{"pool":"x","nope":1}',
  "b.json": "[1",
  "c.json": "3",
};
const read = (p: string) => {
  if (!(p in files)) throw new Error(`ENOENT ${p}`);
  return files[p];
};

test("config file: read, parse and validate, every problem an issue", () => {
  const issues: ConfigIssue[] = [];
  assert.deepEqual(readConfigFile(undefined, schema, read, issues), {});
  assert.deepEqual(readConfigFile("a.json", schema, read, issues), { pool: "x", nope: 1 });
  assert.deepEqual(readConfigFile("b.json", schema, read, issues), {});
  assert.deepEqual(readConfigFile("c.json", schema, read, issues), {});
  assert.deepEqual(readConfigFile("missing.json", schema, read, issues), {});
  assert.deepEqual(issues.map((i) => i.path), ["nope", "b.json", "(top)", "missing.json"]);
});
