/**
 * The first step of every binary's configuration: read the JSON file named by `--config`, parse
 * it, and validate it against the program's schema. Problems become issues (with the file name or
 * the JSON path) instead of exceptions, so `--check-config` can list them all.
 */
import type { ConfigIssue } from "./config_error.ts";
import { parseJsonConfig, type Schema, validate } from "./schema.ts";

/**
 * Read and validate the config file at `path` (when given). Returns its top-level object, or `{}`
 * when there is no file or it is unreadable, not JSON or not an object; every problem is added to
 * `issues`. Keys that failed validation are still returned so later checks can report more.
 */
export function readConfigFile(
  path: string | undefined,
  schema: Schema,
  readFile: (path: string) => string,
  issues: ConfigIssue[],
): Record<string, unknown> {
  if (path === undefined) return {};
  let text: string;
  try {
    text = readFile(path);
  } catch (e) {
    issues.push({ path, message: `cannot read: ${(e as Error).message}` });
    return {};
  }
  const parsed = parseJsonConfig(text, path);
  if (!parsed.ok) {
    issues.push(parsed.issue);
    return {};
  }
  validate(schema, parsed.value, "", issues);
  const v = parsed.value;
  return typeof v === "object" && v !== null && !Array.isArray(v)
    ? v as Record<string, unknown>
    : {};
}
