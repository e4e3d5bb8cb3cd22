/**
 * The messages the TEP's main thread sends to its data-plane Worker over the `MessageRing`
 * (`lib/sys/message_ring.ts`): the Worker spends its life in a blocking `poll(2)` loop and never
 * runs its event loop, so `postMessage` could not reach it.
 *
 * Every message is a few fixed-size binary fields, byte 0 the type:
 *
 * | type | message           | fields (after the type byte)                                        |
 * | ---- | ----------------- | ------------------------------------------------------------------- |
 * | 1    | `binding-add`     | source (1 push, 2 query), IPv4 (4), client IPv6 (16), lifetime ms (f64) |
 * | 2    | `binding-remove`  | 0, IPv4 (4), client IPv6 (16)                                        |
 * | 3    | `query-answer`    | result (0 found, 1 refused, 2 failed), IPv4, IPv6, lifetime ms       |
 * | 4    | `session`         | 1 up, 0 down                                                         |
 * | 5    | `dump-bindings`   | 0, request id (u32)                                                  |
 * | 6    | `publish`         | 0, request id (u32): copy every counter to the shared stats now      |
 *
 * Integers are big-endian, the lifetime an IEEE 754 double (big-endian); a `query-answer` that is
 * not `found` carries zeros in its IPv6 and lifetime fields.
 *
 * @module
 */

/** A message for the data-plane Worker. */
export type RingMessage =
  /** A binding from the server: a push (`create`) or an answer the main thread installs. */
  | {
    readonly kind: "binding-add";
    readonly source: "push" | "query";
    readonly ipv4: number;
    readonly ipv6: Uint8Array;
    readonly lifetimeMs: number;
  }
  /** The server removed a binding (`delete` push): drop it if it maps to this IPv6 address. */
  | { readonly kind: "binding-remove"; readonly ipv4: number; readonly ipv6: Uint8Array }
  /** The answer to a query the Worker asked for. */
  | {
    readonly kind: "query-answer";
    readonly ipv4: number;
    readonly result: "found" | "refused" | "failed";
    readonly ipv6: Uint8Array;
    readonly lifetimeMs: number;
  }
  /** The TSP session to the server came up or went down. */
  | { readonly kind: "session"; readonly up: boolean }
  /** Post the binding table back (for `ctl bindings`) tagged with `id`. */
  | { readonly kind: "dump-bindings"; readonly id: number }
  /** Copy every counter into the shared stats now, then post `published` tagged with `id`. */
  | { readonly kind: "publish"; readonly id: number };

/** Type bytes of {@link RingMessage}s. */
export const RING_TYPE = {
  BINDING_ADD: 1,
  BINDING_REMOVE: 2,
  QUERY_ANSWER: 3,
  SESSION: 4,
  DUMP_BINDINGS: 5,
  PUBLISH: 6,
} as const;

/** Largest encoded message. */
export const RING_MESSAGE_MAX = 30;

/** Why {@link parseRingMessage} refused bytes. */
export type RingMessageReason = "truncated" | "unknown-type" | "bad-field";

/** Result of {@link parseRingMessage}. */
export type RingMessageResult =
  | { readonly ok: true; readonly message: RingMessage }
  | { readonly ok: false; readonly reason: RingMessageReason };

const RESULTS = ["found", "refused", "failed"] as const;
const ZERO16 = new Uint8Array(16);

function u32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

function putU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

function isU32(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
}

function isLifetime(v: unknown): v is number {
  return typeof v === "number" && v >= 0 && Number.isFinite(v);
}

/**
 * Write `m` into `out` at `off`; returns the length, or 0 when `out` has no room or a field is
 * out of range (an IPv4 address that is not an unsigned 32-bit integer, an IPv6 address that is
 * not 16 bytes, a negative or non-finite lifetime). Never throws.
 */
export function writeRingMessage(m: RingMessage, out: Uint8Array, off = 0): number {
  const need = ringMessageLength(m);
  if (need === 0 || !(off >= 0 && off + need <= out.length)) return 0;
  const dv = new DataView(out.buffer, out.byteOffset + off, need);
  switch (m.kind) {
    case "binding-add":
    case "query-answer": {
      const v6 = m.kind === "query-answer" && m.result !== "found" ? ZERO16 : m.ipv6;
      if (!isU32(m.ipv4) || !(v6 instanceof Uint8Array) || v6.length !== 16) return 0;
      if (!isLifetime(m.lifetimeMs)) return 0;
      if (m.kind === "binding-add") {
        if (m.source !== "push" && m.source !== "query") return 0;
        out[off] = RING_TYPE.BINDING_ADD;
        out[off + 1] = m.source === "push" ? 1 : 2;
      } else {
        const r = RESULTS.indexOf(m.result);
        if (r < 0) return 0;
        out[off] = RING_TYPE.QUERY_ANSWER;
        out[off + 1] = r;
      }
      putU32(out, off + 2, m.ipv4);
      out.set(v6, off + 6);
      dv.setFloat64(22, m.kind === "query-answer" && m.result !== "found" ? 0 : m.lifetimeMs);
      return need;
    }
    case "binding-remove":
      if (!isU32(m.ipv4) || !(m.ipv6 instanceof Uint8Array) || m.ipv6.length !== 16) return 0;
      out[off] = RING_TYPE.BINDING_REMOVE;
      out[off + 1] = 0;
      putU32(out, off + 2, m.ipv4);
      out.set(m.ipv6, off + 6);
      return need;
    case "session":
      out[off] = RING_TYPE.SESSION;
      out[off + 1] = m.up ? 1 : 0;
      return need;
    case "dump-bindings":
    case "publish":
      if (!isU32(m.id)) return 0;
      out[off] = m.kind === "publish" ? RING_TYPE.PUBLISH : RING_TYPE.DUMP_BINDINGS;
      out[off + 1] = 0;
      putU32(out, off + 2, m.id);
      return need;
  }
  return 0;
}

/** Encoded length of `m` (0 for an unknown kind). */
export function ringMessageLength(m: RingMessage): number {
  switch (m?.kind) {
    case "binding-add":
    case "query-answer":
      return 30;
    case "binding-remove":
      return 22;
    case "session":
      return 2;
    case "dump-bindings":
    case "publish":
      return 6;
    default:
      return 0;
  }
}

/** Parse the first `len` bytes of `bytes` (default all) as one message. Never throws. */
export function parseRingMessage(bytes: Uint8Array, len = bytes.length): RingMessageResult {
  if (len < 2 || len > bytes.length) return { ok: false, reason: "truncated" };
  const type = bytes[0];
  const b1 = bytes[1];
  switch (type) {
    case RING_TYPE.BINDING_ADD:
    case RING_TYPE.QUERY_ANSWER: {
      if (len < 30) return { ok: false, reason: "truncated" };
      const ipv4 = u32(bytes, 2);
      const ipv6 = bytes.slice(6, 22);
      const lifetimeMs = new DataView(bytes.buffer, bytes.byteOffset, len).getFloat64(22);
      if (!isLifetime(lifetimeMs)) return { ok: false, reason: "bad-field" };
      if (type === RING_TYPE.BINDING_ADD) {
        if (b1 !== 1 && b1 !== 2) return { ok: false, reason: "bad-field" };
        return {
          ok: true,
          message: {
            kind: "binding-add",
            source: b1 === 1 ? "push" : "query",
            ipv4,
            ipv6,
            lifetimeMs,
          },
        };
      }
      if (b1 > 2) return { ok: false, reason: "bad-field" };
      return {
        ok: true,
        message: { kind: "query-answer", result: RESULTS[b1], ipv4, ipv6, lifetimeMs },
      };
    }
    case RING_TYPE.BINDING_REMOVE:
      if (len < 22) return { ok: false, reason: "truncated" };
      return {
        ok: true,
        message: { kind: "binding-remove", ipv4: u32(bytes, 2), ipv6: bytes.slice(6, 22) },
      };
    case RING_TYPE.SESSION:
      if (b1 > 1) return { ok: false, reason: "bad-field" };
      return { ok: true, message: { kind: "session", up: b1 === 1 } };
    case RING_TYPE.DUMP_BINDINGS:
    case RING_TYPE.PUBLISH:
      if (len < 6) return { ok: false, reason: "truncated" };
      return {
        ok: true,
        message: {
          kind: type === RING_TYPE.PUBLISH ? "publish" : "dump-bindings",
          id: u32(bytes, 2),
        },
      };
    default:
      return { ok: false, reason: "unknown-type" };
  }
}
