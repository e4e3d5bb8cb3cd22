/**
 * The ANONYMOUS mechanism as TSP uses it (brief §2.4): `AUTHENTICATE ANONYMOUS`, then the success
 * line. No trace token (RFC 4505) is sent, so the exchange carries no SASL lines at all.
 *
 * @module
 */
import type { SaslClient, SaslClientStep, SaslServer, SaslServerStep } from "./mechanism.ts";

/** The identity an ANONYMOUS exchange reports on success. */
export const ANONYMOUS_IDENTITY = "anonymous";

/** Server side of ANONYMOUS: `start()` succeeds at once; any client line is a failure. */
export function anonymousServer(): SaslServer {
  let started = false;
  return {
    mechanism: "ANONYMOUS",
    start(): SaslServerStep {
      if (started) return { kind: "failure", reason: "ANONYMOUS already started" };
      started = true;
      return { kind: "success", identity: ANONYMOUS_IDENTITY };
    },
    step(_line: Uint8Array): SaslServerStep {
      return { kind: "failure", reason: "unexpected client line in ANONYMOUS" };
    },
  };
}

/**
 * Client side of ANONYMOUS: nothing to send; the next line should be the status line. An empty
 * server line is ignored; any other non-status line is a failure.
 */
export function anonymousClient(): SaslClient {
  let started = false;
  return {
    mechanism: "ANONYMOUS",
    get successAllowed() {
      return started;
    },
    start(): SaslClientStep[] {
      if (started) return [{ kind: "failure", reason: "ANONYMOUS already started" }];
      started = true;
      return [{ kind: "await" }];
    },
    step(line: Uint8Array): SaslClientStep {
      if (!started) return { kind: "failure", reason: "ANONYMOUS not started" };
      if (line.length === 0) return { kind: "await" };
      return { kind: "failure", reason: "unexpected server line in ANONYMOUS" };
    },
  };
}
