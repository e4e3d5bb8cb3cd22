/**
 * Split a server message into its status line and XML (protocol brief §2.5): the body of a
 * `Content-length` frame is `<code> <text>` CR LF then optional XML; an unframed status line
 * (tsps sends errors bare) is the same without XML.
 *
 * @module
 */
import { parseStatusLine, type StatusLine } from "./status_line.ts";

/** A server message: its status line and the XML text after it, if any. */
export interface ReplyBody {
  /** The parsed status line. */
  readonly status: StatusLine;
  /** The XML after the status line, trimmed, or `null` when there is none. */
  readonly xml: string | null;
}

/** Why {@link parseReplyBody} refused a body. */
export type ReplyBodyReason = "not-utf8" | "no-status";

/** Result of {@link parseReplyBody}. */
export type ReplyBodyResult =
  | { readonly ok: true; readonly reply: ReplyBody }
  | { readonly ok: false; readonly reason: ReplyBodyReason };

const decoder = new TextDecoder("utf-8", { fatal: true });

/** Parse a reply body (framed) or an unframed status line, given as bytes. Never throws. */
export function parseReplyBody(body: Uint8Array): ReplyBodyResult {
  let text: string;
  try {
    text = decoder.decode(body);
  } catch {
    return { ok: false, reason: "not-utf8" };
  }
  const nl = text.indexOf("\n");
  const first = nl < 0 ? text : text.slice(0, nl);
  const st = parseStatusLine(first);
  if (!st.ok) return { ok: false, reason: "no-status" };
  const rest = nl < 0 ? "" : text.slice(nl + 1).trim();
  return { ok: true, reply: { status: st.status, xml: rest.length > 0 ? rest : null } };
}
