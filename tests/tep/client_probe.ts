/**
 * A DSTM client for the TEP namespace tests, run inside a client (or spoofer) namespace with
 * `ip netns exec NS <runtime> run -A client_probe.ts '<json>'`. JSON lines on stdout.
 *
 * Modes (argv[2] is JSON):
 * - `{ mode: "lease", server, port, user, pass, clientIpv6 }`: authenticate with DIGEST-MD5
 *   over TCP (`TspClientSession`), ask for a lease (`create` v4v6), print
 *   `{"event":"lease","ipv4":...,"tepIpv6":...,"tepIpv4":...,"lifetime":...}` and exit.
 * - `{ mode: "ping", local, tep, src4, dst4, count, intervalMs, waitMs }`: send `count` ICMPv4
 *   echo requests `src4 → dst4` inside IPv6 from `local` to `tep` on a raw IPIP socket, collect
 *   the echo replies that come back inside IPv6 (from any TEP), print one
 *   `{"event":"reply","from":...,"seq":n}` each, then `{"event":"done","sent":n,"received":n,
 *   "from":[...]}`. A spoofer uses the same mode with someone else's `src4`.
 * - `{ mode: "flood", first, count, rounds, gapMs }`: from an IPv4 host, send one UDP datagram
 *   (port 9) to each of `count` addresses from `first` upwards, `rounds` times with `gapMs`
 *   between rounds; prints `{"event":"done","sent":n,"ms":elapsed}`.
 */
import dgram from "node:dgram";
import net from "node:net";
import process from "node:process";
import { parseIpv4 } from "../../lib/addr/ipv4.ts";
import { writeIcmpv4Echo } from "../../lib/inet/icmpv4.ts";
import { libc } from "../../lib/sys/libc.ts";
import { PolledTunnelSocket } from "../../lib/sys/polled_tunnel_socket.ts";
import { TspClientSession } from "../../lib/tsp/client_session.ts";
import type { ClientAction } from "../../lib/tsp/client_session.ts";
import { allocationRequest, readAllocationInfo } from "../../lib/tsp/dstm_profile.ts";
import { createSaslClient } from "../../lib/tsp/sasl/factory.ts";

interface LeaseConfig {
  mode: "lease";
  server: string;
  port: number;
  user: string;
  pass: string;
  clientIpv6: string;
}

interface PingConfig {
  mode: "ping";
  local: string;
  tep: string;
  src4: string;
  dst4: string;
  count: number;
  intervalMs?: number;
  waitMs?: number;
}

interface FloodConfig {
  mode: "flood";
  first: string;
  count: number;
  rounds: number;
  gapMs: number;
}

function emit(event: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(JSON.stringify({ event, ...fields }) + "\n");
}

const u32 = (s: string) => {
  const r = parseIpv4(s);
  if (!r.ok) throw new Error(`bad IPv4 ${s}`);
  return r.value;
};

function lease(cfg: LeaseConfig): Promise<void> {
  return new Promise((resolve, reject) => {
    const session = new TspClientSession({
      mechanism: "DIGEST-MD5",
      createSasl: (m) =>
        createSaslClient(m, {
          user: cfg.user,
          pass: cfg.pass,
          digestUriHost: `[${cfg.server}]`,
          cnonce: () => Math.random().toString(16).slice(2) + Date.now().toString(16),
        }),
      commands: [allocationRequest(cfg.clientIpv6)],
      responseTimeoutMs: 10_000,
    });
    const sock = net.createConnection({ host: cfg.server, port: cfg.port });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error("no lease within 15 s"));
    }, 15_000);
    const run = (actions: ClientAction[]) => {
      for (const a of actions) {
        if (a.kind === "send") sock.write(a.bytes);
        else if (a.kind === "close") sock.end();
        else if (a.kind === "failed") {
          clearTimeout(timer);
          reject(new Error(`TSP ${a.stage}: ${a.reason}`));
        } else if (a.kind === "response") {
          const info = a.message ? readAllocationInfo(a.message) : undefined;
          if (!info) {
            clearTimeout(timer);
            reject(new Error(`no lease: ${a.status.code} ${a.status.text}`));
            return;
          }
          emit("lease", { ...info });
        } else if (a.kind === "done") {
          clearTimeout(timer);
          resolve();
        }
      }
    };
    sock.on("connect", () => run(session.handle({ kind: "connected", now: Date.now() })));
    sock.on(
      "data",
      (d: Uint8Array) =>
        run(session.handle({ kind: "data", now: Date.now(), bytes: new Uint8Array(d) })),
    );
    sock.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

async function ping(cfg: PingConfig): Promise<void> {
  const c = libc();
  const s = PolledTunnelSocket.open({ local: cfg.local, maxIdleMs: 5 }, c);
  const src = u32(cfg.src4);
  const dst = u32(cfg.dst4);
  const ident = process.pid & 0xffff;
  const seen = new Set<number>();
  const from = new Set<string>();
  let sent = 0;
  const receiving = (async () => {
    for (;;) {
      const d = await s.recv();
      if (d === null) return;
      const p = d.packet;
      // An echo reply (ICMP type 0) from dst to src with our identifier.
      if (p.length < 28 || p[0] >> 4 !== 4 || p[9] !== 1) continue;
      const hl = (p[0] & 15) * 4;
      const psrc = ((p[12] << 24) | (p[13] << 16) | (p[14] << 8) | p[15]) >>> 0;
      const pdst = ((p[16] << 24) | (p[17] << 16) | (p[18] << 8) | p[19]) >>> 0;
      if (p[hl] !== 0 || psrc !== dst || pdst !== src) continue;
      if (((p[hl + 4] << 8) | p[hl + 5]) !== ident) continue;
      const seq = (p[hl + 6] << 8) | p[hl + 7];
      if (seen.has(seq)) continue;
      seen.add(seq);
      from.add(d.from);
      emit("reply", { from: d.from, seq });
    }
  })();
  const buf = new Uint8Array(128);
  for (let i = 0; i < cfg.count; i++) {
    const n = writeIcmpv4Echo(
      {
        reply: false,
        identifier: ident,
        sequence: i + 1,
        data: new TextEncoder().encode("dstm-tep-test-payload-0123456789"),
        src,
        dst,
        ttl: 64,
      },
      buf,
      0,
    );
    s.send(buf.slice(0, n), cfg.tep);
    sent++;
    await new Promise((r) => setTimeout(r, cfg.intervalMs ?? 100));
  }
  const deadline = Date.now() + (cfg.waitMs ?? 2000);
  while (seen.size < sent && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  s.close();
  await receiving;
  emit("done", { sent, received: seen.size, from: [...from] });
}

async function flood(cfg: FloodConfig): Promise<void> {
  const sock = dgram.createSocket("udp4");
  const first = u32(cfg.first);
  const payload = new Uint8Array(16);
  const t0 = Date.now();
  let sent = 0;
  for (let r = 0; r < cfg.rounds; r++) {
    for (let i = 0; i < cfg.count; i++) {
      const a = first + i;
      const host = `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
      await new Promise<void>((res) => sock.send(payload, 9, host, () => res()));
      sent++;
    }
    await new Promise((res) => setTimeout(res, cfg.gapMs));
  }
  sock.close();
  emit("done", { sent, ms: Date.now() - t0 });
}

async function main(): Promise<number> {
  const cfg = JSON.parse(process.argv[2] ?? "{}") as LeaseConfig | PingConfig | FloodConfig;
  if (cfg.mode === "lease") await lease(cfg);
  else if (cfg.mode === "ping") await ping(cfg);
  else if (cfg.mode === "flood") await flood(cfg);
  else throw new Error(`unknown mode ${(cfg as { mode: string }).mode}`);
  return 0;
}

main().then((code) => process.exit(code), (e) => {
  emit("error", { message: String((e as Error)?.message ?? e) });
  process.exit(1);
});
