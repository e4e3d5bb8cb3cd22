/**
 * Command-line parsing for the dstm binaries over `node:util` `parseArgs` (works on Deno and Bun),
 * with help text that teaches and one-line usage errors that name the bad flag.
 */
import { parseArgs } from "node:util";

/** One command-line flag. */
export interface FlagSpec {
  /** Long name without dashes, e.g. `"pool"`. */
  name: string;
  /** `string` takes a value, `boolean` does not. */
  type: "string" | "boolean";
  /** One-letter alias. */
  short?: string;
  /** May be given several times; values are collected in order. */
  multiple?: boolean;
  /** Placeholder shown in help, e.g. `CIDR`. */
  value?: string;
  /** What the flag does (one or two sentences). */
  help: string;
  /** Default shown in help (the config layer applies it). */
  default?: string;
}

/** A subcommand listed in help (e.g. `ctl status`). */
export interface SubcommandSpec {
  /** Words as typed, e.g. `"ctl status"`. */
  usage: string;
  /** What it does. */
  help: string;
}

/** Everything a binary's help text says. */
export interface CommandSpec {
  /** Program name, e.g. `dstm-server`. */
  program: string;
  /** One line: what the program is. */
  summary: string;
  /** Paragraphs explaining what it does and how it fits in a DSTM domain. */
  description: string;
  /** Flags accepted (help and version are added automatically). */
  flags: FlagSpec[];
  /** Subcommands (first positional words). */
  subcommands?: SubcommandSpec[];
  /** Example invocations, each `[command, explanation]`. */
  examples: [string, string][];
}

/** Parsed flag values by long name. */
export type FlagValues = Record<string, string | boolean | string[] | undefined>;

/** The outcome of parsing a command line. */
export type ParseOutcome =
  | { kind: "help" }
  | { kind: "version" }
  | { kind: "run"; values: FlagValues; positionals: string[] }
  | { kind: "usage-error"; message: string };

const BUILTIN: FlagSpec[] = [
  { name: "help", short: "h", type: "boolean", help: "Show this help and exit." },
  {
    name: "version",
    short: "V",
    type: "boolean",
    help: "Show version, runtime and platform, exit.",
  },
];

/** Parse `argv` (without the runtime and script words) against `spec`. Never throws. */
export function parseCommandLine(spec: CommandSpec, argv: string[]): ParseOutcome {
  const options: Record<
    string,
    { type: "string" | "boolean"; short?: string; multiple?: boolean }
  > = {};
  for (const f of [...BUILTIN, ...spec.flags]) {
    options[f.name] = { type: f.type };
    if (f.short) options[f.name].short = f.short;
    if (f.multiple) options[f.name].multiple = true;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    return { kind: "usage-error", message: describeParseError(e, spec) };
  }
  const values = parsed.values as FlagValues;
  if (values.help) return { kind: "help" };
  if (values.version) return { kind: "version" };
  for (const f of spec.flags) {
    const v = values[f.name];
    const list = Array.isArray(v) ? v : typeof v === "string" ? [v] : [];
    for (const s of list) {
      if (s.trim() === "") return { kind: "usage-error", message: `--${f.name} needs a value` };
    }
  }
  return { kind: "run", values, positionals: parsed.positionals };
}

function describeParseError(e: unknown, spec: CommandSpec): string {
  const err = e as { code?: string; message?: string };
  const msg = String(err.message ?? e);
  const flag = /'(-{1,2}[^' ]+)/.exec(msg)?.[1];
  switch (err.code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION": {
      const near = flag ? suggest(flag.replace(/^-+/, ""), spec) : undefined;
      return `unknown flag ${flag ?? msg}${near ? ` (did you mean --${near}?)` : ""}`;
    }
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      if (/argument missing/.test(msg)) return `${flag ?? "a flag"} needs a value`;
      return `${flag ?? "a flag"} does not take a value`;
    default:
      return msg.split("\n")[0];
  }
}

function suggest(name: string, spec: CommandSpec): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const f of spec.flags) {
    const d = editDistance(name, f.name);
    if (d < bestD) {
      bestD = d;
      best = f.name;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length];
}

function wrap(text: string, width: number, indent: string): string {
  const out: string[] = [];
  for (const para of text.split("\n")) {
    let line = "";
    for (const word of para.split(/\s+/).filter(Boolean)) {
      if (line && (indent + line + " " + word).length > width) {
        out.push(indent + line);
        line = word;
      } else line = line ? `${line} ${word}` : word;
    }
    out.push(line ? indent + line : "");
  }
  return out.join("\n");
}

/** Render the help text of `spec`. */
export function formatHelp(spec: CommandSpec): string {
  const parts: string[] = [];
  parts.push(`${spec.program}: ${spec.summary}`, "");
  const subs = spec.subcommands?.length ? " [COMMAND]" : "";
  parts.push(`Usage: ${spec.program}${subs} [FLAGS]`, "");
  parts.push(wrap(spec.description, 100, ""), "");
  if (spec.subcommands?.length) {
    parts.push("Commands:");
    for (const s of spec.subcommands) {
      parts.push(`  ${s.usage}`);
      parts.push(wrap(s.help, 100, "      "));
    }
    parts.push("");
  }
  parts.push("Flags:");
  for (const f of [...spec.flags, ...BUILTIN]) {
    const short = f.short ? `-${f.short}, ` : "    ";
    const val = f.type === "string" ? ` ${f.value ?? "VALUE"}` : "";
    const rep = f.multiple ? " (repeatable)" : "";
    parts.push(`  ${short}--${f.name}${val}${rep}`);
    const def = f.default !== undefined ? ` Default: ${f.default}.` : "";
    parts.push(wrap(f.help + def, 100, "        "));
  }
  parts.push("");
  parts.push("Examples:");
  for (const [cmd, why] of spec.examples) {
    parts.push(`  ${cmd}`);
    parts.push(wrap(why, 100, "      "));
  }
  return parts.join("\n") + "\n";
}
