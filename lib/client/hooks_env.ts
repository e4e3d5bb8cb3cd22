/**
 * Environment variables for the client's up/down hook scripts, in the spirit of gogoc's template
 * scripts (which get `TSP_*` variables describing the tunnel): the shell runs the operator's
 * script with this record merged into its environment when the lease machine configures,
 * deconfigures, or moves the tunnel to another TEP.
 *
 * | Variable | Value |
 * |---|---|
 * | `DSTM_EVENT` | `up`, `down` or `tep-change` |
 * | `DSTM_INTERFACE` | tunnel interface name |
 * | `DSTM_IPV4` | leased IPv4 address |
 * | `DSTM_PREFIXLEN` | `32` (the lease is a host address, protocol.md §2.10) |
 * | `DSTM_LOCAL_IPV6` | the client's registered global IPv6 (tunnel source, §4.1) |
 * | `DSTM_REMOTE_IPV6` | the TEP's IPv6 (tunnel destination) |
 * | `DSTM_TEP_IPV4` | the TEP's IPv4 |
 * | `DSTM_MTU` | tunnel interface MTU |
 * | `DSTM_LEASE_EXPIRES` | lease expiry, ISO 8601 UTC (`2025-01-01T00:10:00.000Z`) |
 * | `DSTM_LEASE_EXPIRES_EPOCH` | lease expiry, whole seconds since the epoch |
 * | `DSTM_LIFETIME_MINUTES` | lease lifetime as granted, in minutes |
 * | `DSTM_ROUTES` | routed IPv4 blocks, space-separated (`0.0.0.0/0`), possibly empty |
 * | `DSTM_SERVER` | the DSTM server as configured |
 * | `DSTM_REASON` | `down` only: `expired`, `refused`, `deleted`, `stopped` or `replaced` |
 * | `DSTM_PREVIOUS_REMOTE_IPV6`, `DSTM_PREVIOUS_TEP_IPV4` | `tep-change` only: the TEP left |
 *
 * Addresses are written in canonical text (`lib/addr`: dotted quad, RFC 5952).
 *
 * @module
 */
import { type Cidr4, formatCidr4, formatIpv4, formatIpv6 } from "../addr/mod.ts";
import type {
  ClientLeaseAction,
  DeconfigureReason,
  HeldLease,
  TepAddresses,
} from "./lease_machine.ts";

/** Which hook runs. */
export type HookEvent = "up" | "down" | "tep-change";

/** Everything the hook environment is computed from. */
export interface HookEnvInput {
  /** Which hook runs. */
  readonly event: HookEvent;
  /** Tunnel interface name, e.g. `dstm0`. */
  readonly interfaceName: string;
  /** The lease brought up, taken down, or moved. */
  readonly lease: HeldLease;
  /** The client's registered global IPv6 address (16 bytes). */
  readonly localIpv6: Uint8Array;
  /** Tunnel interface MTU (68..65535; typically 1460, §4.3). */
  readonly mtu: number;
  /** IPv4 blocks routed into the tunnel. */
  readonly routes: readonly Cidr4[];
  /** The DSTM server as configured (host name or address, with or without port). */
  readonly server: string;
  /** For `tep-change`: the TEP the tunnel left. */
  readonly previousTep?: TepAddresses;
  /** For `down`: why the address is taken down. */
  readonly reason?: DeconfigureReason;
}

function checkText(name: string, v: string): void {
  if (typeof v !== "string" || v.length === 0 || /[\0\r\n]/.test(v)) {
    throw new RangeError(`Cannot build hook environment: bad ${name} ${JSON.stringify(v)}`);
  }
}

/**
 * The hook environment for `input`: a fresh record of `DSTM_*` variables (see the module table),
 * keys in a fixed order. Pure: the same input gives the same record.
 *
 * @throws {RangeError} on input a hook could not be given: an empty name or server, a NUL or
 * newline in them, an MTU outside 68..65535, a non-finite expiry, a 16-byte address missing.
 */
export function hooksEnv(input: HookEnvInput): Record<string, string> {
  checkText("interface name", input.interfaceName);
  checkText("server", input.server);
  if (!Number.isInteger(input.mtu) || input.mtu < 68 || input.mtu > 65535) {
    throw new RangeError(`Cannot build hook environment: MTU ${input.mtu} out of range`);
  }
  const { lease } = input;
  if (!Number.isFinite(lease.expiresAt)) {
    throw new RangeError(`Cannot build hook environment: expiry ${lease.expiresAt} is not a time`);
  }
  const env: Record<string, string> = {
    DSTM_EVENT: input.event,
    DSTM_INTERFACE: input.interfaceName,
    DSTM_IPV4: formatIpv4(lease.ipv4),
    DSTM_PREFIXLEN: "32",
    DSTM_LOCAL_IPV6: formatIpv6(input.localIpv6),
    DSTM_REMOTE_IPV6: formatIpv6(lease.tep.ipv6),
    DSTM_TEP_IPV4: formatIpv4(lease.tep.ipv4),
    DSTM_MTU: String(input.mtu),
    DSTM_LEASE_EXPIRES: new Date(lease.expiresAt).toISOString(),
    DSTM_LEASE_EXPIRES_EPOCH: String(Math.floor(lease.expiresAt / 1000)),
    DSTM_LIFETIME_MINUTES: String(lease.lifetimeMinutes),
    DSTM_ROUTES: input.routes.map(formatCidr4).join(" "),
    DSTM_SERVER: input.server,
  };
  if (input.event === "down" && input.reason !== undefined) env.DSTM_REASON = input.reason;
  if (input.event === "tep-change" && input.previousTep !== undefined) {
    env.DSTM_PREVIOUS_REMOTE_IPV6 = formatIpv6(input.previousTep.ipv6);
    env.DSTM_PREVIOUS_TEP_IPV4 = formatIpv4(input.previousTep.ipv4);
  }
  return env;
}

/**
 * The hook a lease-machine action runs, with the fields of {@link HookEnvInput} it determines:
 * `configure` → `up`, `deconfigure` → `down` (with its reason), `reconfigure-tep` →
 * `tep-change` (with the previous TEP); `undefined` for actions that run no hook.
 */
export function hookFor(
  action: ClientLeaseAction,
): Pick<HookEnvInput, "event" | "lease" | "previousTep" | "reason"> | undefined {
  switch (action.kind) {
    case "configure":
      return { event: "up", lease: action.lease };
    case "deconfigure":
      return { event: "down", lease: action.lease, reason: action.reason };
    case "reconfigure-tep":
      return { event: "tep-change", lease: action.lease, previousTep: action.previousTep };
    default:
      return undefined;
  }
}
