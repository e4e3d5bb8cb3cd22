/**
 * The pure, time-injected pieces of the DSTM client host agent (`dstm-client`).
 *
 * - `lease_machine.ts`: {@link createLeaseMachine}, the lease life (request, bind, renew at T1,
 *   retry until T2, expire, reallocate, release, TEP failover), `step(state, event)` →
 *   `[state, actions]` with {@link leasePollAt}.
 * - `tep_monitor.ts`: {@link TepMonitor}, keepalive probes to the TEP with jitter, K misses or an
 *   ICMPv6 error → `tep-failed`; RTT for `ctl status`.
 * - `source_filter.ts`: {@link TepSourceFilter}, accept decapsulated traffic only from domain TEPs
 *   and only for the current lease, without allocating per packet.
 * - `hooks_env.ts`: {@link hooksEnv}, the `DSTM_*` environment of up/down/tep-change hooks.
 * - `dataplane.ts`: {@link ClientDataplane}, the sans-I/O packet core between the TUN, the raw
 *   IPv4-in-IPv6 socket and the raw ICMPv6 socket (`fromTun`, `fromTunnel`, `fromIcmpv6`,
 *   `buildKeepalive`), with {@link ClientDataplaneCounters} and the {@link CLIENT_DROP_REASONS}
 *   table for `ctl status`.
 *
 * The client binary's shell owns the TSP sessions, the TUN device, netlink, the one timer and the
 * hook processes; it feeds events in and carries the actions out:
 *
 * ```ts
 * const machine = createLeaseMachine({ reallocate: "always" });
 * let state = machine.initial;
 * function feed(ev: ClientLeaseEvent) {
 *   const [next, actions] = machine.step(state, ev);
 *   state = next;
 *   for (const a of actions) perform(a); // request / configure / reconfigure-tep / deconfigure / release / log
 *   rearmTimer(machine.pollAt(state));
 * }
 * feed({ kind: "start", now: clock() }); // the shell's clock, in ms
 * ```
 *
 * @module
 */
export {
  type BoundState,
  type ClientLease,
  type ClientLeaseAction,
  type ClientLeaseActionKind,
  type ClientLeaseEvent,
  type ClientLeaseEventKind,
  type ClientLeasePhase,
  type ClientLeaseState,
  createLeaseMachine,
  type DeconfigureReason,
  DEFAULT_BACKOFF_INITIAL_MS,
  DEFAULT_BACKOFF_JITTER,
  DEFAULT_BACKOFF_MAX_MS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  type ExpiredState,
  type ExpiringState,
  type HeldLease,
  type IdleState,
  type InFlight,
  type LeaseCounters,
  type LeaseMachine,
  type LeaseMachineConfig,
  leasePollAt,
  type LeaseStateCommon,
  type LeaseStep,
  type LossReason,
  MAX_LIFETIME_MINUTES,
  MS_PER_MINUTE,
  type Pending,
  type ReallocatePolicy,
  REBIND_FRACTION,
  type ReleasedState,
  RENEW_FRACTION,
  type RenewingState,
  type RequestingState,
  type RequestReason,
  STATUS_ADDRESS_UNAVAILABLE,
  type TepAddresses,
} from "./lease_machine.ts";
export {
  DEFAULT_KEEPALIVE_SECONDS,
  DEFAULT_MISS_LIMIT,
  type IcmpErrorPolicy,
  KEEPALIVE_JITTER_LOW,
  keepaliveIntervalMs,
  TepMonitor,
  type TepMonitorAction,
  type TepMonitorOptions,
  type TepMonitorStatus,
} from "./tep_monitor.ts";
export {
  DEFAULT_MAX_LEARNED_TEPS,
  SOURCE_FILTER_REASONS,
  type SourceFilterOptions,
  type SourceFilterReason,
  type SourceFilterVerdict,
  TepSourceFilter,
} from "./source_filter.ts";
export { type HookEnvInput, type HookEvent, hookFor, hooksEnv } from "./hooks_env.ts";
export {
  CLIENT_DROP_REASON_ID,
  CLIENT_DROP_REASONS,
  CLIENT_TRAFFIC_COUNTER_ID,
  CLIENT_TRAFFIC_COUNTERS,
  type ClientCounterInfo,
  ClientDataplane,
  ClientDataplaneCounters,
  type ClientDataplaneOptions,
  type ClientDropReason,
  type ClientTrafficCounter,
  type DataplaneLease,
  DEFAULT_ICMP_BURST,
  DEFAULT_ICMP_RATE_PER_SEC,
  DEFAULT_TUNNEL_MTU,
  type Icmpv6DropReason,
  type Icmpv6Result,
  IPV4_MIN_MTU,
  IPV6_MIN_MTU,
  KEEPALIVE_LENGTH,
  MAX_TUNNEL_MTU,
  MIN_TUNNEL_MTU,
  REPLY_BUFFER_LENGTH,
  type TunDropReason,
  TUNNEL_OVERHEAD,
  type TunnelDropReason,
  type TunnelResult,
  type TunResult,
} from "./dataplane.ts";
export { HEADROOM, MAX_COALESCED, TcpCoalescer, VNET_HDR_LEN } from "./tcp_coalescer.ts";
export { readVnetPacket, VNET_HEADER_LENGTH } from "./vnet_packet.ts";
