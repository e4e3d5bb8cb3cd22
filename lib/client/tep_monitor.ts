/**
 * Detect that the client's assigned TEP stopped answering, so the lease machine can ask the
 * server again and move to the TEP it names (see `lease_machine.ts`, event `tep-failed`).
 *
 * Evidence, in the order it usually arrives:
 * - **Keepalive misses.** An ICMPv4 echo request goes through the tunnel to the TEP's IPv4
 *   (TEPV4ADDR; protocol.md §2.8 recommendation) every N seconds, N from the lease's
 *   `<keepalive interval>` (the broker's value wins, §2.8) or a default, each interval drawn from
 *   [0.75·N, N] (§2.8 SHOULD). A probe not answered before the next one is due is a miss; after K
 *   consecutive misses (default 3, as deployed clients do, §8 item 5) the TEP is declared failed.
 * - **ICMPv6 errors from the path** toward the TEP address (destination or address unreachable,
 *   reported by the shell after it has checked that the error quotes one of our tunnel packets).
 *   Policy `fail` (default) declares failure at once; policy `miss` counts it as the miss of the
 *   probe that is out. Either way an error counts at most once per probe, so a flood of errors
 *   (one per data packet, or forged, protocol.md §6 row 7) cannot declare failure more often than
 *   the probes would.
 *
 * After a failure the monitor keeps probing: a reply clears the failure (`tep-recovered`), and K
 * further misses declare it again, which makes the lease machine ask the server again (useful
 * when the server named the same dead TEP). Replies also measure the round-trip time for
 * `ctl status`.
 *
 * Time is injected: the shell calls {@link TepMonitor.onTick} at or after
 * {@link TepMonitor.pollAt}, and feeds replies and errors in with their arrival time. The monitor
 * never sends anything itself; it returns actions.
 *
 * @module
 */

/** Default keepalive interval (s) when the lease carries none; gogoc's default request (§8 item 7). */
export const DEFAULT_KEEPALIVE_SECONDS = 30;
/** Default number of consecutive misses that declares the TEP failed (§8 item 5). */
export const DEFAULT_MISS_LIMIT = 3;
/** Lower bound of the keepalive jitter as a fraction of the interval (protocol.md §2.8). */
export const KEEPALIVE_JITTER_LOW = 0.75;

/** What an ICMPv6 error toward the TEP means to the monitor. */
export type IcmpErrorPolicy =
  /** Declare the TEP failed at once (unless it already is; then count a miss). */
  | "fail"
  /** Count it as the miss of the probe that is out. */
  | "miss";

/** Options of {@link TepMonitor}. */
export interface TepMonitorOptions {
  /** Probe interval N in ms (default {@link DEFAULT_KEEPALIVE_SECONDS} s); see {@link keepaliveIntervalMs}. */
  readonly intervalMs?: number;
  /** Consecutive misses K that declare failure (default {@link DEFAULT_MISS_LIMIT}). */
  readonly missLimit?: number;
  /** What an ICMPv6 error means (default `fail`). */
  readonly icmpErrorPolicy?: IcmpErrorPolicy;
  /** Random source returning numbers in [0, 1) for the jitter and the first sequence number;
   * default `Math.random`. */
  readonly random?: () => number;
}

/** An output of the monitor, for the shell. */
export type TepMonitorAction =
  /** Send an ICMPv4 echo request with this 16-bit sequence number through the tunnel to the TEP. */
  | { readonly kind: "send-probe"; readonly seq: number }
  /** The TEP is declared failed: feed `{ kind: "tep-failed", now, reason }` to the lease machine. */
  | { readonly kind: "tep-failed"; readonly reason: "timeout" | "icmp"; readonly misses: number }
  /** A reply arrived after a failure was declared: the TEP answers again. */
  | { readonly kind: "tep-recovered"; readonly rttMs: number };

/** A snapshot for `ctl status` and metrics. */
export interface TepMonitorStatus {
  /** Probing at all (between {@link TepMonitor.start} and {@link TepMonitor.stop}). */
  readonly active: boolean;
  /** A failure was declared and no reply has arrived since. */
  readonly failed: boolean;
  /** Consecutive misses counted toward the next failure. */
  readonly misses: number;
  /** Failures declared since construction. */
  readonly failures: number;
  /** The probe interval N in ms. */
  readonly intervalMs: number;
  /** Probes sent since construction. */
  readonly probesSent: number;
  /** Replies matched to a probe since construction. */
  readonly repliesReceived: number;
  /** Replies matching no recent probe (duplicates, very late, forged). */
  readonly unmatchedReplies: number;
  /** ICMPv6 errors reported since construction. */
  readonly icmpErrors: number;
  /** Round-trip time of the last matched reply (ms), or `undefined` before the first. */
  readonly lastRttMs: number | undefined;
  /** Smoothed RTT (RFC 6298 weights, 1/8), or `undefined` before the first reply. */
  readonly srttMs: number | undefined;
  /** Arrival time of the last matched reply (ms), or `undefined`. */
  readonly lastReplyAt: number | undefined;
}

/**
 * The probe interval in ms for a lease: its `<keepalive interval>` in seconds when the server
 * sent one (the broker's value wins, §2.8), else `defaultSeconds`.
 *
 * @throws {RangeError} if `defaultSeconds` is not a positive finite number.
 */
export function keepaliveIntervalMs(
  keepaliveSeconds: number | undefined,
  defaultSeconds = DEFAULT_KEEPALIVE_SECONDS,
): number {
  if (
    !(typeof defaultSeconds === "number" && Number.isFinite(defaultSeconds) && defaultSeconds > 0)
  ) {
    throw new RangeError(`Cannot compute keepalive interval: bad default ${defaultSeconds}`);
  }
  const s = typeof keepaliveSeconds === "number" && Number.isFinite(keepaliveSeconds) &&
      keepaliveSeconds > 0
    ? keepaliveSeconds
    : defaultSeconds;
  return Math.round(s * 1000);
}

/** Number of recent probes remembered so that a late reply still proves the TEP alive. */
const RECENT = 8;

function checkInterval(ms: number): void {
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 1) {
    throw new RangeError(`Cannot monitor TEP: interval must be at least 1 ms, got ${ms}`);
  }
}

/**
 * The TEP liveness monitor of one client. Mutable, but time-injected and free of I/O: every
 * method takes `now` (ms) and returns the actions to carry out.
 *
 * @example
 * ```ts
 * const mon = new TepMonitor({ intervalMs: keepaliveIntervalMs(lease.keepaliveSeconds) });
 * mon.start(now);
 * // on the shell's timer, at mon.pollAt():
 * for (const a of mon.onTick(now)) if (a.kind === "send-probe") sendEcho(a.seq);
 * ```
 */
export class TepMonitor {
  #intervalMs: number;
  readonly #missLimit: number;
  readonly #policy: IcmpErrorPolicy;
  readonly #random: () => number;

  #active = false;
  #nextProbeAt = Infinity;
  #seq: number;
  // The probe out: its sequence number (-1 for none), when it was sent, and whether it was
  // already counted as missed (by an ICMPv6 error).
  #outSeq = -1;
  #outSentAt = 0;
  #outMissed = false;
  // Recent probes, for late replies: a ring of (seq, sentAt); seq -1 marks an empty slot.
  readonly #recentSeq = new Int32Array(RECENT).fill(-1);
  readonly #recentAt = new Float64Array(RECENT);
  #recentNext = 0;

  #misses = 0;
  #failed = false;
  #failures = 0;
  #probesSent = 0;
  #replies = 0;
  #unmatched = 0;
  #icmpErrors = 0;
  #lastRtt: number | undefined = undefined;
  #srtt: number | undefined = undefined;
  #lastReplyAt: number | undefined = undefined;

  /**
   * Create an idle monitor; {@link TepMonitor.start} begins probing.
   *
   * @throws {RangeError} on an option out of range (a programmer error).
   */
  constructor(options: TepMonitorOptions = {}) {
    this.#intervalMs = options.intervalMs ?? DEFAULT_KEEPALIVE_SECONDS * 1000;
    checkInterval(this.#intervalMs);
    this.#missLimit = options.missLimit ?? DEFAULT_MISS_LIMIT;
    if (!Number.isInteger(this.#missLimit) || this.#missLimit < 1) {
      throw new RangeError(
        `Cannot monitor TEP: missLimit must be a positive integer, got ${this.#missLimit}`,
      );
    }
    this.#policy = options.icmpErrorPolicy ?? "fail";
    if (this.#policy !== "fail" && this.#policy !== "miss") {
      throw new RangeError(`Cannot monitor TEP: unknown icmpErrorPolicy ${this.#policy}`);
    }
    this.#random = options.random ?? Math.random;
    this.#seq = Math.floor(this.#draw() * 0x10000) & 0xffff;
  }

  #draw(): number {
    const r = Number(this.#random());
    if (!(r >= 0)) return 0;
    return r >= 1 ? 1 - Number.EPSILON : r;
  }

  /** An interval drawn uniformly from the integers in [ceil(0.75·N), N] (§2.8). */
  #jittered(): number {
    const n = this.#intervalMs;
    const lo = Math.min(n, Math.ceil(n * KEEPALIVE_JITTER_LOW));
    const hi = Math.floor(n);
    return Math.min(hi, lo + Math.floor(this.#draw() * (hi - lo + 1)));
  }

  /**
   * Begin (or restart, e.g. after `configure` or `reconfigure-tep`) probing at `now`: misses and
   * the failure flag are cleared and the first probe is due one jittered interval later.
   * `intervalMs`, if given, replaces the interval (a new lease's keepalive).
   *
   * @throws {RangeError} if `intervalMs` is not at least 1 ms.
   */
  start(now: number, intervalMs?: number): void {
    if (intervalMs !== undefined) {
      checkInterval(intervalMs);
      this.#intervalMs = intervalMs;
    }
    this.#active = true;
    this.#misses = 0;
    this.#failed = false;
    this.#outSeq = -1;
    this.#outMissed = false;
    this.#recentSeq.fill(-1);
    this.#nextProbeAt = now + this.#jittered();
  }

  /** Stop probing (the address was deconfigured). Replies and errors are then ignored. */
  stop(): void {
    this.#active = false;
    this.#nextProbeAt = Infinity;
    this.#outSeq = -1;
    this.#recentSeq.fill(-1);
  }

  /** When the next probe is due (ms), or `Infinity` when stopped. */
  pollAt(): number {
    return this.#nextProbeAt;
  }

  /**
   * Act on the clock: if a probe is due, count the miss of the one still out (declaring failure
   * after K), then send the next. One probe per call, however late the call (no burst after a
   * suspend). Before {@link TepMonitor.pollAt} it does nothing.
   */
  onTick(now: number): TepMonitorAction[] {
    if (!this.#active || now < this.#nextProbeAt) return [];
    const acts: TepMonitorAction[] = [];
    if (this.#outSeq >= 0 && !this.#outMissed) this.#miss("timeout", acts);
    const seq = this.#seq;
    this.#seq = (seq + 1) & 0xffff;
    this.#outSeq = seq;
    this.#outSentAt = now;
    this.#outMissed = false;
    this.#recentSeq[this.#recentNext] = seq;
    this.#recentAt[this.#recentNext] = now;
    this.#recentNext = (this.#recentNext + 1) % RECENT;
    this.#probesSent++;
    acts.push({ kind: "send-probe", seq });
    this.#nextProbeAt = now + this.#jittered();
    return acts;
  }

  #miss(reason: "timeout" | "icmp", acts: TepMonitorAction[]): void {
    this.#outMissed = true;
    this.#misses++;
    if (this.#misses >= this.#missLimit) this.#declare(reason, acts);
  }

  #declare(reason: "timeout" | "icmp", acts: TepMonitorAction[]): void {
    acts.push({ kind: "tep-failed", reason, misses: this.#misses });
    this.#failed = true;
    this.#failures++;
    this.#misses = 0;
  }

  /**
   * An echo reply with sequence number `seq` arrived from the TEP at `now` (the shell has checked
   * the source and the echo identifier). A reply to any recent probe clears the misses and the
   * failure; duplicates and unknown sequence numbers are counted and ignored.
   */
  onReply(seq: number, now: number): TepMonitorAction[] {
    if (!this.#active) return [];
    let sentAt = -1;
    for (let i = 0; i < RECENT; i++) {
      if (this.#recentSeq[i] === seq) {
        sentAt = this.#recentAt[i];
        this.#recentSeq[i] = -1; // a duplicate of this reply will not match again
        break;
      }
    }
    if (sentAt < 0) {
      this.#unmatched++;
      return [];
    }
    if (seq === this.#outSeq) this.#outSeq = -1;
    const rtt = Math.max(0, now - sentAt);
    this.#replies++;
    this.#lastRtt = rtt;
    this.#srtt = this.#srtt === undefined ? rtt : this.#srtt + (rtt - this.#srtt) / 8;
    this.#lastReplyAt = now;
    this.#misses = 0;
    if (!this.#failed) return [];
    this.#failed = false;
    return [{ kind: "tep-recovered", rttMs: rtt }];
  }

  /**
   * The shell saw an ICMPv6 error (destination / address unreachable) for a tunnel packet toward
   * the TEP at `now`. Counted at most once per probe; see the module documentation for the policy.
   */
  onIcmpError(_now: number): TepMonitorAction[] {
    if (!this.#active) return [];
    this.#icmpErrors++;
    const acts: TepMonitorAction[] = [];
    if (this.#policy === "fail" && !this.#failed) {
      // Immediate evidence. The probe out (if any) is spent: its timeout must not count again.
      this.#outMissed = true;
      this.#misses++;
      this.#declare("icmp", acts);
      return acts;
    }
    if (this.#outSeq >= 0 && !this.#outMissed) this.#miss("icmp", acts);
    return acts;
  }

  /** A snapshot of the counters and RTT for `ctl status`. */
  status(): TepMonitorStatus {
    return {
      active: this.#active,
      failed: this.#failed,
      misses: this.#misses,
      failures: this.#failures,
      intervalMs: this.#intervalMs,
      probesSent: this.#probesSent,
      repliesReceived: this.#replies,
      unmatchedReplies: this.#unmatched,
      icmpErrors: this.#icmpErrors,
      lastRttMs: this.#lastRtt,
      srttMs: this.#srtt,
      lastReplyAt: this.#lastReplyAt,
    };
  }
}
