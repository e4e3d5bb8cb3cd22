/**
 * Status lines (protocol brief §2.3, §2.7): `<code> <text>`, and the `OK …` form of TSP 1.0 and
 * the multi-TEP draft (`OK Authentication successful`), which is read as code 200.
 *
 * Clients parse the leading integer (gogoc uses `atoi`), so any 3- or 4-digit code is accepted;
 * the text is whatever follows the first run of spaces.
 *
 * @module
 */
import { baseStatusCode, isRedirectCode, isSuccessCode, statusText } from "./status_codes.ts";

/** A parsed status line. */
export interface StatusLine {
  /** The code as sent (`1302` for a redirect). An `OK …` line gives 200. */
  readonly code: number;
  /** The code without the redirect offset. */
  readonly baseCode: number;
  /** The text after the code (`Success`), or the whole line for `OK …`. */
  readonly text: string;
  /** True when the code is above 1000: a broker list follows. */
  readonly redirect: boolean;
  /** True for `2xx` (and `OK …`). */
  readonly success: boolean;
}

/** Why {@link parseStatusLine} refused a line. */
export type StatusLineReason = "empty" | "not-status" | "too-long";

/** Result of {@link parseStatusLine}. */
export type StatusLineResult =
  | { readonly ok: true; readonly status: StatusLine }
  | { readonly ok: false; readonly reason: StatusLineReason };

/** Longest status line considered (the longest known text is well under this). */
export const MAX_STATUS_LINE = 512;

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/**
 * Parse one status line (without CR LF; trailing CR, LF, NUL and spaces are ignored). Accepts
 * `<3-4 digits>` optionally followed by spaces and text, and `OK` (any case) alone or followed by
 * a space. Never throws.
 */
export function parseStatusLine(line: string): StatusLineResult {
  if (typeof line !== "string") return { ok: false, reason: "not-status" };
  let end = line.length;
  while (end > 0) {
    const c = line.charCodeAt(end - 1);
    if (c === 0x0d || c === 0x0a || c === 0 || isSpace(c)) end--;
    else break;
  }
  let start = 0;
  while (start < end && line.charCodeAt(start) === 0) start++;
  if (start === end) return { ok: false, reason: "empty" };
  if (end - start > MAX_STATUS_LINE) return { ok: false, reason: "too-long" };
  const t = line.slice(start, end);
  let i = 0;
  while (i < t.length && isDigit(t.charCodeAt(i))) i++;
  if (i >= 3 && i <= 4 && (i === t.length || isSpace(t.charCodeAt(i)))) {
    const code = Number(t.slice(0, i));
    let j = i;
    while (j < t.length && isSpace(t.charCodeAt(j))) j++;
    return { ok: true, status: makeStatus(code, t.slice(j)) };
  }
  if (
    t.length >= 2 && (t.charCodeAt(0) | 0x20) === 0x6f && (t.charCodeAt(1) | 0x20) === 0x6b &&
    (t.length === 2 || isSpace(t.charCodeAt(2)))
  ) {
    return { ok: true, status: makeStatus(200, t) };
  }
  return { ok: false, reason: "not-status" };
}

function makeStatus(code: number, text: string): StatusLine {
  return {
    code,
    baseCode: baseStatusCode(code),
    text,
    redirect: isRedirectCode(code),
    success: isSuccessCode(code),
  };
}

/**
 * Form a status line without CR LF: `<code> <text>`, with the table text when `text` is omitted.
 * Throws `RangeError` for a code outside 100..1999 and `TypeError` for text with CR, LF or NUL.
 */
export function formatStatusLine(code: number, text?: string): string {
  if (!Number.isInteger(code) || code < 100 || code > 1999) {
    throw new RangeError(`Cannot format status line: code ${code} is out of range`);
  }
  const t = text ?? statusText(code);
  if (/[\r\n\0]/.test(t)) throw new TypeError("Cannot format status line: text has CR, LF or NUL");
  return `${code} ${t}`;
}
