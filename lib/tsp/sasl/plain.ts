/**
 * The PLAIN mechanism (RFC 4616) as deployed TSP clients speak it (brief §2.4, §8.2): after
 * `AUTHENTICATE PLAIN` the client sends, unprompted, the raw octets `[authzid] NUL authcid NUL
 * passwd` and CR LF. Not base64. The server sends nothing in between.
 *
 * @module
 */
import { binFromBytes, binToUtf8, bytesFromBin, sha256, utf8ToBin } from "./_binary.ts";
import { constantTimeEqual } from "./_constant_time.ts";
import type {
  PasswordLookup,
  SaslClient,
  SaslClientStep,
  SaslServer,
  SaslServerStep,
} from "./mechanism.ts";

/** Longest authzid, authcid or password in octets (RFC 4616 §2). */
export const PLAIN_MAX_FIELD = 255;

/** Longest credentials line accepted: three fields and two separators. */
const MAX_LINE = 3 * PLAIN_MAX_FIELD + 2;

/**
 * Server side of PLAIN. `start()` answers `await` (the credentials follow unprompted). The line
 * is accepted as `user NUL pass` (the caller strips gogoc's leading NUL, brief §8.2),
 * `NUL user NUL pass` or `authzid NUL user NUL pass`, where a non-empty authzid must equal the
 * user (no proxy authorization). Fields must be valid UTF-8, non-empty and at most 255 octets.
 * The password is compared in constant time, also for unknown users.
 */
export function plainServer(lookup: PasswordLookup): SaslServer {
  if (typeof lookup !== "function") {
    throw new TypeError("Cannot create PLAIN server: lookup is not a function");
  }
  let state: "new" | "started" | "done" = "new";
  const fail = (reason: string): SaslServerStep => ({ kind: "failure", reason });
  return {
    mechanism: "PLAIN",
    start(): SaslServerStep {
      if (state !== "new") return fail("PLAIN already started");
      state = "started";
      return { kind: "await" };
    },
    step(line: Uint8Array): SaslServerStep {
      if (state !== "started") {
        return fail(state === "new" ? "PLAIN not started" : "unexpected client line after PLAIN");
      }
      state = "done";
      if (line.length > MAX_LINE + 4) return fail("PLAIN line too long");
      let start = 0;
      let end = line.length;
      while (start < end && line[start] === 0) start++;
      while (end > start && line[end - 1] === 0) end--;
      const fields = binFromBytes(line.subarray(start, end)).split("\0");
      if (fields.length < 2 || fields.length > 3) {
        return fail("PLAIN line is not [authzid]\\0user\\0pass");
      }
      const [authzBin, userBin, passBin] = fields.length === 3 ? fields : ["", ...fields];
      if (userBin.length === 0 || passBin.length === 0) return fail("PLAIN empty user or password");
      if (
        authzBin.length > PLAIN_MAX_FIELD || userBin.length > PLAIN_MAX_FIELD ||
        passBin.length > PLAIN_MAX_FIELD
      ) return fail("PLAIN field too long");
      if (authzBin.length > 0 && authzBin !== userBin) {
        return fail("PLAIN authzid differs from user");
      }
      const user = binToUtf8(userBin);
      if (user === undefined || binToUtf8(passBin) === undefined) return fail("PLAIN not UTF-8");
      let expected: string | undefined;
      try {
        expected = lookup(user);
      } catch {
        expected = undefined;
      }
      // Compare digests so that neither the content nor the length of the password leaks.
      const want = sha256(bytesFromBin(utf8ToBin(typeof expected === "string" ? expected : "")));
      const got = sha256(bytesFromBin(passBin));
      const same = constantTimeEqual(want, got);
      if (typeof expected !== "string" || !same) return fail("PLAIN bad user or password");
      return { kind: "success", identity: user };
    },
  };
}

function checkField(what: string, value: unknown): string {
  if (typeof value !== "string" || value.length === 0) {
    throw new TypeError(`Cannot create PLAIN client: ${what} is empty`);
  }
  if (/[\0\r\n]/.test(value)) {
    throw new TypeError(`Cannot create PLAIN client: ${what} contains NUL, CR or LF`);
  }
  if (utf8ToBin(value).length > PLAIN_MAX_FIELD) {
    throw new TypeError(`Cannot create PLAIN client: ${what} is longer than 255 octets`);
  }
  return value;
}

/**
 * Client side of PLAIN: `start()` gives one `send` of the raw octets `NUL user NUL pass` (UTF-8,
 * empty authzid), exactly what gogoc sends. An empty server line (the tsps server's empty UDP
 * reply) is ignored; any other non-status line is a failure. Throws `TypeError` for an empty
 * user or password or one containing NUL, CR or LF.
 */
export function plainClient(user: string, pass: string): SaslClient {
  const line = bytesFromBin(
    utf8ToBin("\0" + checkField("user", user) + "\0" + checkField("password", pass)),
  );
  let started = false;
  return {
    mechanism: "PLAIN",
    get successAllowed() {
      return started;
    },
    start(): SaslClientStep[] {
      if (started) return [{ kind: "failure", reason: "PLAIN already started" }];
      started = true;
      return [{ kind: "send", line: line.slice() }];
    },
    step(l: Uint8Array): SaslClientStep {
      if (!started) return { kind: "failure", reason: "PLAIN not started" };
      if (l.length === 0) return { kind: "await" };
      return { kind: "failure", reason: "unexpected server line in PLAIN" };
    },
  };
}
