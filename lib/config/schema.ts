/**
 * A small validator for JSON configuration: unknown keys are rejected and every issue is reported
 * with its path, so `--check-config` can list them all at once.
 */
import type { ConfigIssue } from "./config_error.ts";

/** Schema of one configuration value. */
export type Schema =
  | { type: "string"; check?: (s: string) => string | undefined; enum?: readonly string[] }
  | { type: "integer"; min?: number; max?: number }
  | { type: "number"; min?: number; max?: number }
  | { type: "boolean" }
  | { type: "array"; items: Schema; minItems?: number; maxItems?: number }
  | { type: "object"; fields: Record<string, Field>; additional?: Schema }
  | { type: "any" };

/** A field of an object schema. */
export type Field = Schema & { required?: boolean };

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return typeof v;
}

function join(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  return path ? `${path}.${key}` : key;
}

/**
 * Validate `value` against `schema`, appending problems to `issues`. Returns nothing; a value is
 * valid when no issue was added.
 */
export function validate(
  schema: Schema,
  value: unknown,
  path: string,
  issues: ConfigIssue[],
): void {
  const bad = (message: string): void => {
    issues.push({ path: path || "(top)", message });
  };
  switch (schema.type) {
    case "any":
      return;
    case "string":
      if (typeof value !== "string") return bad(`expected a string, got ${typeName(value)}`);
      if (schema.enum && !schema.enum.includes(value)) {
        return bad(`expected one of ${schema.enum.join(", ")}, got ${JSON.stringify(value)}`);
      }
      if (schema.check) {
        const err = schema.check(value);
        if (err) bad(err);
      }
      return;
    case "integer":
    case "number":
      if (typeof value !== "number" || !Number.isFinite(value)) {
        return bad(`expected a number, got ${typeName(value)}`);
      }
      if (schema.type === "integer" && !Number.isInteger(value)) {
        return bad(`expected an integer, got ${value}`);
      }
      if (schema.min !== undefined && value < schema.min) return bad(`must be >= ${schema.min}`);
      if (schema.max !== undefined && value > schema.max) return bad(`must be <= ${schema.max}`);
      return;
    case "boolean":
      if (typeof value !== "boolean") bad(`expected true or false, got ${typeName(value)}`);
      return;
    case "array":
      if (!Array.isArray(value)) return bad(`expected an array, got ${typeName(value)}`);
      if (schema.minItems !== undefined && value.length < schema.minItems) {
        bad(`needs at least ${schema.minItems} item(s)`);
      }
      if (schema.maxItems !== undefined && value.length > schema.maxItems) {
        bad(`takes at most ${schema.maxItems} item(s)`);
      }
      value.forEach((v, i) => validate(schema.items, v, join(path, i), issues));
      return;
    case "object": {
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        return bad(`expected an object, got ${typeName(value)}`);
      }
      const obj = value as Record<string, unknown>;
      for (const [k, v] of Object.entries(obj)) {
        const f = schema.fields[k];
        if (f) validate(f, v, join(path, k), issues);
        else if (schema.additional) validate(schema.additional, v, join(path, k), issues);
        else issues.push({ path: join(path, k), message: "unknown key" });
      }
      for (const [k, f] of Object.entries(schema.fields)) {
        if (f.required && !(k in obj)) issues.push({ path: join(path, k), message: "is required" });
      }
      return;
    }
  }
}

/** Parse JSON text, reporting a syntax error as an issue instead of throwing. */
export function parseJsonConfig(
  text: string,
  source: string,
): { ok: true; value: unknown } | { ok: false; issue: ConfigIssue } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (e) {
    return {
      ok: false,
      issue: { path: source, message: `not valid JSON: ${(e as Error).message}` },
    };
  }
}
