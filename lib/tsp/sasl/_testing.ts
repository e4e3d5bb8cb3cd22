/**
 * Private helpers for this directory's tests: line conversions, the in-memory exchange driver,
 * step shape checks and the interop vectors of RFC 2831 §4 and brief §8.3.
 *
 * @module
 */
import assert from "node:assert/strict";
import { decodeBase64, encodeBase64 } from "./_base64.ts";
import { binFromBytes, bytesFromBin, utf8ToBin } from "./_binary.ts";
import type { SaslClient, SaslClientStep, SaslServer, SaslServerStep } from "./mechanism.ts";
import type { Prng } from "../../testing/prng.ts";

/** A JS string as the UTF-8 octets of a line. */
export function line(text: string): Uint8Array {
  return bytesFromBin(utf8ToBin(text));
}

/** The base64 line carrying the UTF-8 octets of `text`. */
export function b64Line(text: string): Uint8Array {
  return line(encodeBase64(line(text)));
}

/** Decode a base64 line (string or octets) to text, one char per octet; throws if it is not. */
export function unb64(l: string | Uint8Array): string {
  const r = decodeBase64(typeof l === "string" ? line(l) : l, 1 << 16);
  if (!r.ok) throw new Error(`not base64: ${r.reason}`);
  return binFromBytes(r.bytes);
}

/** The brief §8.3 interop vector (accepted by the real gogoc client). */
export const GOGOC = {
  user: "user1",
  pass: "secret",
  realm: "dstm.example",
  nonce: "1795679425",
  cnonce: "1795679425",
  host: "[::1]",
  response: "e286e79a6527ce4d3ae2664f5a726e27",
  rspauth: "cc29113be15bac6e3394df8971f883bf",
  challenge: 'realm="dstm.example",nonce="1795679425",qop="auth",algorithm=md5-sess,charset=utf-8',
  clientResponse: 'charset=utf-8,username="user1",realm="dstm.example",nonce="1795679425",' +
    'nc=00000001,cnonce="1795679425",digest-uri="tsp/[::1]",' +
    "response=e286e79a6527ce4d3ae2664f5a726e27,qop=auth",
} as const;

/** The RFC 2831 §4 example. */
export const RFC2831 = {
  user: "chris",
  pass: "secret",
  realm: "elwood.innosoft.com",
  nonce: "OA6MG9tEQGm2hh",
  cnonce: "OA6MHXh6VqTrRk",
  digestUri: "imap/elwood.innosoft.com",
  response: "d388dad90d4bbd760a152321f2143af7",
  rspauth: "ea40f60335c427b5527b84dbabcdfffd",
} as const;

/** How an in-memory exchange ended. */
export type Outcome =
  | { end: "success"; identity: string; verified: boolean }
  | { end: "server-failure"; reason: string }
  | { end: "client-failure"; reason: string }
  | { end: "client-refused-success" }
  | { end: "stuck" };

/**
 * Run one exchange in memory the way a TSP session does: the client's start steps, the server's
 * start step, then lines both ways until the server decides; on success, `final` goes to the
 * client first, then the `200` line, which the client may only accept if `successAllowed`.
 * `tamperFinal` may rewrite the server's `final` line on the way.
 */
export function exchange(
  server: SaslServer,
  client: SaslClient,
  tamperFinal: (final: string) => string = (f) => f,
): Outcome {
  const toServer: Uint8Array[] = [];
  let verified = false;
  const onClient = (s: SaslClientStep): Outcome | undefined => {
    if (s.kind === "send") toServer.push(s.line);
    else if (s.kind === "verified") verified = true;
    else if (s.kind === "failure") return { end: "client-failure", reason: s.reason };
    return undefined;
  };
  for (const s of client.start()) {
    const o = onClient(s);
    if (o) return o;
  }
  let s: SaslServerStep = server.start();
  for (let round = 0; round < 8; round++) {
    if (s.kind === "failure") return { end: "server-failure", reason: s.reason };
    if (s.kind === "success") {
      if (s.final !== undefined) {
        const o = onClient(client.step(line(tamperFinal(s.final))));
        if (o) return o;
      }
      if (client.successAllowed !== true) return { end: "client-refused-success" };
      return { end: "success", identity: s.identity, verified };
    }
    if (s.kind === "challenge") {
      const o = onClient(client.step(line(s.line)));
      if (o) return o;
    }
    const next = toServer.shift();
    if (next === undefined) return { end: "stuck" };
    s = server.step(next);
  }
  return { end: "stuck" };
}

/** Assert that a server step is one of the four documented shapes with well-typed fields. */
export function assertServerStep(s: SaslServerStep): void {
  assert.equal(typeof s, "object");
  switch (s.kind) {
    case "challenge":
      assert.equal(typeof s.line, "string");
      assert.ok(!/[\r\n]/.test(s.line));
      return;
    case "await":
      return;
    case "success":
      assert.equal(typeof s.identity, "string");
      if (s.final !== undefined) assert.equal(typeof s.final, "string");
      return;
    case "failure":
      assert.equal(typeof s.reason, "string");
      assert.ok(s.reason.length > 0);
      return;
    default:
      assert.fail(`undefined server step ${JSON.stringify(s)}`);
  }
}

/** Assert that a client step is one of the four documented shapes with well-typed fields. */
export function assertClientStep(s: SaslClientStep): void {
  assert.equal(typeof s, "object");
  switch (s.kind) {
    case "send":
      assert.ok(s.line instanceof Uint8Array);
      assert.ok(!s.line.includes(0x0a) && !s.line.includes(0x0d));
      return;
    case "await":
    case "verified":
      return;
    case "failure":
      assert.equal(typeof s.reason, "string");
      assert.ok(s.reason.length > 0);
      return;
    default:
      assert.fail(`undefined client step ${JSON.stringify(s)}`);
  }
}

/** Characters that matter to the directive syntax, for mutations. */
const SPECIALS = ',="\\ \t\r\n\0\x7f\xff=,"';

/** A byte-level mutation of `bytes`: flips, insertions, deletions, duplication, truncation. */
export function mutateBytes(prng: Prng, bytes: Uint8Array): Uint8Array {
  const out = Array.from(bytes);
  const ops = 1 + prng.int(3);
  for (let k = 0; k < ops; k++) {
    const at = prng.int(out.length + 1);
    switch (prng.int(6)) {
      case 0:
        if (out.length > 0) out[prng.int(out.length)] ^= 1 << prng.int(8);
        break;
      case 1:
        out.splice(at, 0, prng.int(256));
        break;
      case 2:
        out.splice(at, 1 + prng.int(8));
        break;
      case 3:
        out.splice(at, 0, ...out.slice(prng.int(out.length + 1)).slice(0, 1 + prng.int(16)));
        break;
      case 4:
        out.length = prng.int(out.length + 1);
        break;
      default:
        out.splice(at, 0, SPECIALS.charCodeAt(prng.int(SPECIALS.length)));
    }
  }
  return Uint8Array.from(out);
}

/**
 * A directive-aware mutation of a directive list (one char per octet): drop, duplicate, rename
 * or re-value a directive, add blanks or separators, or fall back to a byte-level mutation.
 */
export function mutateDirectives(prng: Prng, text: string): string {
  const parts = text.split(",");
  const i = prng.int(parts.length);
  switch (prng.int(7)) {
    case 0:
      parts.splice(i, 1);
      break;
    case 1:
      parts.splice(i, 0, parts[prng.int(parts.length)]);
      break;
    case 2: {
      const eq = parts[i].indexOf("=");
      parts[i] = parts[i].slice(0, eq + 1) + randomValue(prng);
      break;
    }
    case 3: {
      const eq = parts[i].indexOf("=");
      parts[i] = "x" + prng.int(4) + parts[i].slice(Math.max(eq, 0));
      break;
    }
    case 4:
      parts[i] = " ".repeat(prng.int(3)) + parts[i] + "\t".repeat(prng.int(2));
      break;
    case 5:
      parts.splice(i, 0, "");
      break;
    default:
      return binFromBytes(mutateBytes(prng, bytesFromBin(text)));
  }
  return parts.join(",");
}

function randomValue(prng: Prng): string {
  const choices = ['"', '""', '"\\', '"a\\"b"', "auth", "00000001", "0", "md5-sess", "utf-8"];
  if (prng.int(2) === 0) return choices[prng.int(choices.length)];
  let s = prng.int(2) === 0 ? '"' : "";
  const n = prng.int(12);
  for (let k = 0; k < n; k++) s += String.fromCharCode(prng.int(256));
  return s + (s.startsWith('"') && prng.int(4) !== 0 ? '"' : "");
}

/** A random line of one of several shapes; `valid` lines (decoded) seed the mutations. */
export function fuzzLine(prng: Prng, valid: readonly string[]): Uint8Array {
  const seed = valid[prng.int(valid.length)];
  const enc = (bin: string) => bytesFromBin(encodeBase64(bytesFromBin(bin)));
  switch (prng.int(8)) {
    case 0:
      return prng.bytes(prng.int(80));
    case 1:
      return enc(binFromBytes(prng.bytes(prng.int(120))));
    case 2:
      return mutateBytes(prng, enc(seed));
    case 3:
      return mutateBytes(prng, bytesFromBin(seed));
    case 4:
      return prng.int(40) === 0
        ? enc(seed)
        : enc(mutateDirectives(prng, mutateDirectives(prng, seed)));
    default:
      return enc(mutateDirectives(prng, seed));
  }
}
