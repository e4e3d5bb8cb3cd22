/**
 * TSP load generator of the benchmark suite, written on `lib/tsp` (sessions in-process, many
 * concurrent TCP connections). Runs under Bun or Deno:
 *
 *   bun bench/tsp_load.ts '<json>'        deno run -A bench/tsp_load.ts '<json>'
 *
 * Modes (argv[2] is JSON); each prints one JSON result line on stdout:
 * - `lease`: one allocation `{ server, port, user, pass, clientIpv6, localAddress? }` with
 *   DIGEST-MD5 → `{ event: "lease", ipv4, tepIpv6, ... }`.
 * - `alloc`: fresh TCP session per allocation, `concurrency` at a time, for `seconds` or `count`
 *   allocations: `{ mechanism, users?, concurrency, seconds?, count?, first }`; client IPv6
 *   addresses `2001:db8:7::<n>` from `first` upward (the server, reached over loopback, takes the
 *   address named in the request) → `{ event: "alloc", ok, failed, seconds, rate, p50Ms, p99Ms,
 *   codes }`. Latency is connect to `accept` sent.
 * - `query`: one persistent DIGEST-MD5 session as a TEP, `window` queries in flight (pipelined
 *   frames), addresses cycled over `first`..`first+count-1`, for `seconds` →
 *   `{ event: "query", ok, failed, seconds, rate, p50Ms, p99Ms, codes }`.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import net from "node:net";
import process from "node:process";
import { formatIpv4, parseIpv4 } from "../lib/addr/ipv4.ts";
import { TspClientSession } from "../lib/tsp/client_session.ts";
import type { ClientAction } from "../lib/tsp/client_session.ts";
import { allocationRequest, queryRequest, readAllocationInfo } from "../lib/tsp/dstm_profile.ts";
import { encodeTunnel } from "../lib/tsp/encode_tunnel.ts";
import { FrameReader } from "../lib/tsp/frame_reader.ts";
import { encodeCommand, encodeLine, encodeLineBytes } from "../lib/tsp/frame_writer.ts";
import { parseReplyBody } from "../lib/tsp/reply_body.ts";
import { createSaslClient } from "../lib/tsp/sasl/factory.ts";
import type { MechanismName } from "../lib/tsp/sasl/mechanism.ts";
import { parseStatusLine } from "../lib/tsp/status_line.ts";
import { nativeTcp, type NativeTcpSocket } from "../lib/sys/native_tcp.ts";

interface Common {
  server: string;
  port: number;
}
interface LeaseCfg extends Common {
  mode: "lease";
  user: string;
  pass: string;
  clientIpv6: string;
  localAddress?: string;
}
interface AllocCfg extends Common {
  mode: "alloc";
  mechanism: MechanismName;
  users?: [string, string][];
  concurrency: number;
  seconds?: number;
  count?: number;
  first: number;
}
interface QueryCfg extends Common {
  mode: "query";
  user: string;
  pass: string;
  window: number;
  seconds: number;
  first: string;
  count: number;
}

function emit(event: string, fields: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify({ event, ...fields }) + "\n");
}

let cnonceSeq = 0;
const cnonce = () => `${process.pid.toString(16)}${(cnonceSeq++).toString(16)}x${Date.now()}`;

function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return NaN;
  xs.sort((a, b) => a - b);
  return xs[Math.min(xs.length - 1, Math.max(0, Math.ceil(q * xs.length) - 1))];
}

const r3 = (x: number) => Math.round(x * 1000) / 1000;

/** The n-th bench client IPv6 address. */
function clientAddress(n: number): string {
  return `2001:db8:7::${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
}

/** One session with one allocation; resolves with the status code of the answer. */
function allocateOnce(
  cfg: Common,
  mechanism: MechanismName,
  user: string,
  pass: string,
  clientIpv6: string,
  localAddress?: string,
  onLease?: (info: Record<string, unknown>) => void,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const session = new TspClientSession({
      mechanism,
      createSasl: (m) =>
        createSaslClient(m, { user, pass, digestUriHost: `[${cfg.server}]`, cnonce }),
      commands: [allocationRequest(clientIpv6)],
      responseTimeoutMs: 20_000,
    });
    const sock = net.createConnection({
      host: cfg.server,
      port: cfg.port,
      ...(localAddress ? { localAddress } : {}),
    });
    sock.setNoDelay(true);
    let code = 0;
    let settled = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      sock.destroy();
      if (err) reject(err);
      else resolve(code);
    };
    const run = (actions: ClientAction[]) => {
      for (const a of actions) {
        switch (a.kind) {
          case "send":
            sock.write(a.bytes);
            break;
          case "response": {
            code = a.status.code;
            const info = a.message ? readAllocationInfo(a.message) : undefined;
            if (info && onLease) onLease({ ...info });
            break;
          }
          case "done":
          case "close":
            finish();
            return;
          case "failed":
            finish(new Error(`TSP ${a.stage}: ${a.reason}`));
            return;
          default:
            break;
        }
      }
    };
    sock.on("connect", () => run(session.handle({ kind: "connected", now: Date.now() })));
    sock.on("data", (d: Uint8Array) => {
      run(session.handle({ kind: "data", now: Date.now(), bytes: new Uint8Array(d) }));
    });
    sock.on("error", (e) => finish(e));
    sock.on("close", () => finish(code ? undefined : new Error("closed before an answer")));
  });
}

async function lease(cfg: LeaseCfg): Promise<void> {
  let got: Record<string, unknown> | undefined;
  const code = await allocateOnce(
    cfg,
    "DIGEST-MD5",
    cfg.user,
    cfg.pass,
    cfg.clientIpv6,
    cfg.localAddress,
    (i) => (got = i),
  );
  if (!got) throw new Error(`no lease: status ${code}`);
  emit("lease", got);
}

/** `2001:db8:7::…` create frames: the encoder's own output for one address, the address swapped. */
const CREATE_SENTINEL = "2001:db8:7::fedc:ba98";
const createTemplate = (() => {
  const xml = encodeTunnel(allocationRequest(CREATE_SENTINEL));
  const at = xml.indexOf(CREATE_SENTINEL);
  if (at < 0) throw new Error("cannot build the create template");
  return { head: xml.slice(0, at), tail: xml.slice(at + CREATE_SENTINEL.length) };
})();
const ACCEPT_FRAME = encodeCommand(encodeTunnel({ action: "accept" }));
const textEncoder = new TextEncoder();

/** The framed `create` for `clientIpv6` (byte-identical to `encodeCommand(encodeTunnel(...))`). */
function createFrame(clientIpv6: string): Uint8Array {
  const xml = createTemplate.head + clientIpv6 + createTemplate.tail;
  // all ASCII: the string length is the byte length
  return textEncoder.encode(`Content-length: ${xml.length + 2}\r\n${xml}\r\n`);
}

/** A byte stream to the server: Bun's native sockets under Bun, `node:net` elsewhere. */
interface Conn {
  write(b: Uint8Array): void;
  close(): void;
}
interface ConnEvents {
  open(): void;
  data(b: Uint8Array): void;
  /** Closed or failed (called once). */
  closed(err?: Error): void;
}

function connect(cfg: Common, ev: ConnEvents): Conn {
  if (nativeTcp) {
    type S = NativeTcpSocket<undefined>;
    let sock: S | undefined;
    let pending: Uint8Array[] | null = null;
    let ended = false;
    const flush = () => {
      while (pending && pending.length > 0) {
        const b = pending[0];
        const n = sock!.write(b);
        if (n < b.length) {
          pending[0] = b.subarray(Math.max(0, n));
          return;
        }
        // (a full write: next chunk)
        pending.shift();
      }
      if (ended) sock!.end();
    };
    const conn: Conn = {
      write(b) {
        if (pending && pending.length > 0) return void pending.push(b);
        const n = sock!.write(b);
        if (n < b.length) (pending ??= []).push(b.subarray(Math.max(0, n)));
      },
      close() {
        ended = true;
        if (sock && (!pending || pending.length === 0)) sock.end();
      },
    };
    let done = false;
    const closed = (err?: Error) => {
      if (done) return;
      done = true;
      ev.closed(err);
    };
    nativeTcp.connect<undefined>({
      hostname: cfg.server,
      port: cfg.port,
      socket: {
        open(s: S) {
          sock = s;
          s.setNoDelay?.(true);
          try {
            ev.open();
          } catch (e) {
            closed(e as Error);
          }
        },
        data(_s: S, d: Uint8Array) {
          try {
            ev.data(d);
          } catch (e) {
            closed(e as Error);
          }
        },
        drain() {
          flush();
        },
        close() {
          closed();
        },
        error(_s: S, e: Error) {
          closed(e);
        },
        connectError(_s: S, e: Error) {
          closed(e);
        },
      },
    }).catch((e: Error) => closed(e));
    return conn; // (used only once open() ran)
  }
  const sock = net.createConnection({ host: cfg.server, port: cfg.port });
  sock.setNoDelay(true);
  let done = false;
  const closed = (err?: Error) => {
    if (done) return;
    done = true;
    ev.closed(err);
  };
  sock.on("connect", () => ev.open());
  sock.on("data", (d: Uint8Array) => ev.data(new Uint8Array(d.buffer, d.byteOffset, d.length)));
  sock.on("error", (e) => {
    closed(e);
    sock.destroy();
  });
  sock.on("close", () => closed());
  return { write: (b) => void sock.write(b), close: () => void sock.end() };
}

const LF = 0x0a;
const latin1 = new TextDecoder("latin1");

/**
 * One allocation on a fresh session, with a small client of its own (the load generator must not
 * eat the CPU the server is measured on): VERSION, CAPABILITY, AUTHENTICATE (SASL steps through
 * `lib/tsp/sasl`), `create`, the `info` reply (status 200 and an `info` message), `accept`,
 * close. Resolves with the status code of the answer (0 when none came).
 */
function allocateLight(
  cfg: Common,
  mechanism: MechanismName,
  user: string,
  pass: string,
  clientIpv6: string,
): Promise<number> {
  return new Promise((resolve, reject) => {
    let phase: "version" | "auth" | "reply" | "done" = "version";
    let buf: Uint8Array = new Uint8Array(0);
    let code = 0;
    let sasl: ReturnType<typeof createSaslClient> | undefined;
    let settled = false;
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      phase = "done";
      conn.close();
      reject(new Error(why));
    };
    const succeed = () => {
      settled = true;
      phase = "done";
      resolve(code);
    };
    const line = (l: Uint8Array): void => {
      const t = latin1.decode(l).trimEnd();
      if (phase === "version") {
        if (!/^capability(\s|$)/i.test(t)) return fail(`TSP version: expected CAPABILITY: ${t}`);
        if (!t.toUpperCase().includes(`AUTH=${mechanism}`)) {
          return fail(`TSP capability: server does not offer AUTH=${mechanism}`);
        }
        conn.write(encodeLine(`AUTHENTICATE ${mechanism}`));
        sasl = createSaslClient(mechanism, {
          user,
          pass,
          digestUriHost: `[${cfg.server}]`,
          cnonce,
        });
        phase = "auth";
        for (const s of sasl.start()) {
          if (s.kind === "send") conn.write(encodeLineBytes(s.line));
          else if (s.kind === "failure") return fail(`TSP auth: ${s.reason}`);
        }
        return;
      }
      if (phase === "auth") {
        const st = parseStatusLine(t);
        if (st.ok) {
          if (st.status.code !== 200) {
            code = st.status.code;
            return fail(`TSP auth: server refused authentication (${t})`);
          }
          if (sasl!.successAllowed === false) return fail("TSP auth: success before rspauth");
          phase = "reply";
          conn.write(createFrame(clientIpv6));
          return;
        }
        const s = sasl!.step(l);
        if (s.kind === "send") conn.write(encodeLineBytes(s.line));
        else if (s.kind === "failure") return fail(`TSP auth: ${s.reason}`);
        return;
      }
      // an unframed reply line (an error status)
      const st = parseStatusLine(t);
      code = st.ok ? st.status.code : 0;
      succeed();
      conn.close();
    };
    const ev: ConnEvents = {
      open() {
        conn.write(encodeLine("VERSION=2.0.2"));
      },
      data(d: Uint8Array) {
        if (phase === "done") return;
        if (buf.length === 0) buf = d.slice();
        else {
          const b = new Uint8Array(buf.length + d.length);
          b.set(buf);
          b.set(d, buf.length);
          buf = b;
        }
        for (;;) {
          if (settled) return; // (line() may have ended the session)
          const nl = buf.indexOf(LF);
          if (nl < 0) return;
          if (phase === "reply" && buf[0] === 0x43 /* C */) {
            // "Content-length: N\r\n" and N bytes of body
            const head = latin1.decode(buf.subarray(0, nl));
            const m = /^content-length:\s*(\d+)/i.exec(head);
            if (!m) return fail(`TSP reply: bad frame header ${head}`);
            const len = Number(m[1]);
            if (buf.length < nl + 1 + len) return;
            const body = latin1.decode(buf.subarray(nl + 1, nl + 1 + len));
            buf = buf.subarray(nl + 1 + len);
            const st = parseStatusLine(body.slice(0, body.indexOf("\n")).trimEnd());
            code = st.ok ? st.status.code : 0;
            if (code === 200 && !/<tunnel[^>]*action="info"/i.test(body)) {
              return fail("TSP reply: 200 without an info message");
            }
            if (code === 200) conn.write(ACCEPT_FRAME);
            succeed();
            conn.close();
            return;
          }
          const l = buf.subarray(0, nl > 0 && buf[nl - 1] === 0x0d ? nl - 1 : nl);
          buf = buf.subarray(nl + 1);
          line(l);
        }
      },
      closed(err?: Error) {
        if (settled) return;
        if (err) fail(err.message);
        else fail("closed before an answer");
      },
    };
    const conn = connect(cfg, ev);
  });
}

async function alloc(cfg: AllocCfg): Promise<void> {
  const lat: number[] = [];
  const codes: Record<string, number> = {};
  let next = cfg.first;
  let ok = 0;
  let failed = 0;
  const users = cfg.users ?? [["anonymous", ""]];
  const t0 = performance.now();
  const end = cfg.seconds ? t0 + cfg.seconds * 1000 : Infinity;
  const last = cfg.count ? cfg.first + cfg.count : Infinity;
  const worker = async (w: number) => {
    const [user, pass] = users[w % users.length];
    for (;;) {
      if (performance.now() >= end || next >= last) return;
      const n = next++;
      const s = performance.now();
      try {
        const code = await allocateLight(cfg, cfg.mechanism, user, pass, clientAddress(n));
        codes[code] = (codes[code] ?? 0) + 1;
        if (code === 200) {
          ok++;
          lat.push(performance.now() - s);
        } else failed++;
      } catch (e) {
        failed++;
        const k = (e as Error).message.slice(0, 40);
        codes[k] = (codes[k] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: cfg.concurrency }, (_, i) => worker(i)));
  const seconds = (performance.now() - t0) / 1000;
  emit("alloc", {
    ok,
    failed,
    seconds: r3(seconds),
    rate: Math.round(ok / seconds),
    p50Ms: r3(quantile(lat, 0.5)),
    p99Ms: r3(quantile(lat, 0.99)),
    codes,
  });
}

/** A persistent TEP session with pipelined queries (own framing after a manual handshake). */
async function query(cfg: QueryCfg): Promise<void> {
  const first = parseIpv4(cfg.first);
  if (!first.ok) throw new Error(`bad first address ${cfg.first}`);
  const frames: Uint8Array[] = [];
  for (let i = 0; i < Math.min(cfg.count, 4096); i++) {
    const a = formatIpv4((first.value + i) >>> 0);
    frames.push(encodeCommand(encodeTunnel(queryRequest(a))));
  }
  const sock = net.createConnection({ host: cfg.server, port: cfg.port });
  sock.setNoDelay(true);
  const reader = new FrameReader({ limits: { maxBuffered: 1 << 22 } });
  const sasl = createSaslClient("DIGEST-MD5", {
    user: cfg.user,
    pass: cfg.pass,
    digestUriHost: `[${cfg.server}]`,
    cnonce,
  });
  let phase: "version" | "auth" | "run" | "done" = "version";
  const sentAt: number[] = [];
  const lat: number[] = [];
  const codes: Record<string, number> = {};
  let ok = 0;
  let failed = 0;
  let sent = 0;
  let t0 = 0;
  let end = 0;
  const dec = new TextDecoder();
  const result = new Promise<void>((resolve, reject) => {
    const sendMore = () => {
      let chunk: Uint8Array[] = [];
      while (sent - (ok + failed) < cfg.window && performance.now() < end) {
        chunk.push(frames[sent % frames.length]);
        sentAt.push(performance.now());
        sent++;
        if (chunk.length >= 64) {
          sock.write(Buffer.concat(chunk));
          chunk = [];
        }
      }
      if (chunk.length > 0) sock.write(Buffer.concat(chunk));
      if (sent === ok + failed && performance.now() >= end) {
        phase = "done";
        sock.destroy();
        resolve();
      }
    };
    const onStatus = (code: number, body: Uint8Array | null) => {
      if (phase !== "run") return;
      // A push (server-initiated `create`/`delete` framed as a reply) is not an answer.
      if (body !== null) {
        const r = parseReplyBody(body);
        if (r.ok && r.reply.xml !== null && /action="(create|delete)"/i.test(r.reply.xml)) return;
      }
      const i = ok + failed;
      lat.push(performance.now() - sentAt[i]);
      codes[code] = (codes[code] ?? 0) + 1;
      if (code === 200) ok++;
      else failed++;
    };
    sock.on("connect", () => sock.write(encodeLine("VERSION=2.0.2")));
    sock.on("error", reject);
    sock.on("close", () => {
      if (phase !== "done") reject(new Error(`closed in phase ${phase}`));
    });
    sock.on("data", (d: Uint8Array) => {
      reader.push(new Uint8Array(d));
      for (;;) {
        const item = reader.next(phase === "run" ? "reply" : "line");
        if (item === null) break;
        if (item.kind === "error") return reject(new Error(item.detail));
        if (item.kind === "frame") {
          const r = parseReplyBody(item.body);
          onStatus(r.ok ? r.reply.status.code : 0, item.body);
          continue;
        }
        const t = dec.decode(item.line);
        if (phase === "version") {
          if (!/^capability/i.test(t)) return reject(new Error(`expected CAPABILITY: ${t}`));
          sock.write(encodeLine("AUTHENTICATE DIGEST-MD5"));
          for (const s of sasl.start()) if (s.kind === "send") sock.write(encodeLineBytes(s.line));
          phase = "auth";
        } else if (phase === "auth") {
          const st = parseStatusLine(t);
          if (st.ok) {
            if (st.status.code !== 200) return reject(new Error(`auth: ${t}`));
            phase = "run";
            t0 = performance.now();
            end = t0 + cfg.seconds * 1000;
            sendMore();
          } else {
            const s = sasl.step(item.line);
            if (s.kind === "send") sock.write(encodeLineBytes(s.line));
            else if (s.kind === "failure") return reject(new Error(`auth: ${s.reason}`));
          }
        } else {
          const st = parseStatusLine(t);
          onStatus(st.ok ? st.status.code : 0, null);
        }
      }
      // Refill the window once per read (a burst of replies), not once per reply: one write.
      if (phase === "run") sendMore();
    });
  });
  await result;
  const seconds = (performance.now() - t0) / 1000;
  emit("query", {
    ok,
    failed,
    seconds: r3(seconds),
    rate: Math.round(ok / seconds),
    p50Ms: r3(quantile(lat, 0.5)),
    p99Ms: r3(quantile(lat, 0.99)),
    codes,
    window: cfg.window,
  });
}

const cfg = JSON.parse(process.argv[2]) as LeaseCfg | AllocCfg | QueryCfg;
const main = cfg.mode === "lease" ? lease(cfg) : cfg.mode === "alloc" ? alloc(cfg) : query(cfg);
main.then(() => process.exit(0), (e) => {
  emit("error", { message: (e as Error).message });
  process.exit(1);
});
