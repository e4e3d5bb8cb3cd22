/**
 * A TSP client for tests over real sockets (TCP or UDP, IPv4 or IPv6), built on
 * `TspClientSession` and `UdpClientLink` from `lib/tsp`. Reusable by any test that needs to talk
 * to a TSP server (`dstm-server` or a fake):
 *
 * ```ts
 * const peer = await TspTestPeer.connect({ host: "::1", port, mechanism: "ANONYMOUS" });
 * const r = await peer.command(allocationRequest("2001:db8:100::10"));
 * r.status.code; // 200
 * await peer.close();
 * ```
 *
 * A TEP's persistent session is the same object: `pushes` collects what the server sends
 * unsolicited, `waitForPush()` waits for one. `rawUdp()` sends hand-made datagrams (header
 * included) for retransmission tests.
 *
 * @module
 */
import net from "node:net";
import dgram from "node:dgram";
import { clearTimeout, setTimeout } from "node:timers";
import {
  type ClientAction,
  type CommandMessage,
  createSaslClient,
  encodeUdpDatagram,
  type MechanismName,
  parseUdpDatagram,
  type StatusLine,
  TspClientSession,
  type TunnelMessage,
  UdpClientLink,
  type UdpClientLinkOptions,
} from "../../lib/tsp/mod.ts";

/** Options of {@link TspTestPeer.connect}. */
export interface TspTestPeerOptions {
  /** Server address (`::1`, `127.0.0.1`, ...). */
  readonly host: string;
  /** Server port. */
  readonly port: number;
  /** Transport. Default `tcp`. */
  readonly transport?: "tcp" | "udp";
  /** SASL mechanism. */
  readonly mechanism: MechanismName;
  /** User (PLAIN, DIGEST-MD5). */
  readonly user?: string;
  /** Password (PLAIN, DIGEST-MD5). */
  readonly pass?: string;
  /** Versions to try (default: the session's list, 2.0.2 first). */
  readonly versions?: readonly string[];
  /** Time for each expected server message (ms). Default 5000. */
  readonly responseTimeoutMs?: number;
  /** UDP link options (RTOs). */
  readonly udp?: UdpClientLinkOptions;
  /** Accept or reject the `info` of a `create` (2.x). Default: accept. */
  readonly accept?: boolean;
  /** Local address to bind (TCP) — e.g. another loopback address. */
  readonly localAddress?: string;
}

/** The server's answer to one command. */
export interface TspTestResponse {
  /** The command sent. */
  readonly command: CommandMessage;
  /** Status line. */
  readonly status: StatusLine;
  /** The XML message, if any. */
  readonly message?: TunnelMessage;
  /** Whether `accept` (true) or `reject` (false) was sent back (2.x create). */
  readonly accepted?: boolean;
}

interface Pending {
  resolve(r: TspTestResponse): void;
  reject(e: Error): void;
}

/** A live client session to a TSP server; see the module documentation. */
export class TspTestPeer {
  /** Every client action, in order (for assertions). */
  readonly actions: ClientAction[] = [];
  /** Server-initiated messages received. */
  readonly pushes: TunnelMessage[] = [];
  /** The version the session settled on. */
  version = "";
  /** Why the session ended, once it has. */
  ended: string | undefined;

  readonly #o: TspTestPeerOptions;
  readonly #session: TspClientSession;
  #sock: net.Socket | undefined;
  #udp: dgram.Socket | undefined;
  #link: UdpClientLink | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #pending: Pending[] = [];
  #readyWaiters: { resolve(): void; reject(e: Error): void }[] = [];
  #pushWaiters: { pred: (m: TunnelMessage) => boolean; resolve(m: TunnelMessage): void }[] = [];
  #endWaiters: (() => void)[] = [];
  #cnonce = 0;

  private constructor(o: TspTestPeerOptions) {
    this.#o = o;
    this.#session = new TspClientSession({
      mechanism: o.mechanism,
      createSasl: (m) =>
        createSaslClient(m, {
          user: o.user,
          pass: o.pass,
          digestUriHost: o.host.includes(":") ? `[${o.host}]` : o.host,
          cnonce: () => `cn${Date.now().toString(36)}${++this.#cnonce}`,
        }),
      versions: o.versions,
      persistent: true,
      responseTimeoutMs: o.responseTimeoutMs ?? (o.transport === "udp" ? 20000 : 5000),
      ...(o.accept === false ? { acceptPolicy: () => false } : {}),
    });
  }

  /** Connect and authenticate; rejects when the session fails before it is ready. */
  static async connect(o: TspTestPeerOptions): Promise<TspTestPeer> {
    const p = new TspTestPeer(o);
    const ready = new Promise<void>((resolve, reject) => p.#readyWaiters.push({ resolve, reject }));
    p.#open();
    await ready;
    return p;
  }

  /** Send a command and wait for its answer. */
  command(message: CommandMessage): Promise<TspTestResponse> {
    if (this.ended !== undefined) {
      return Promise.reject(new Error(`session ended: ${this.ended}`));
    }
    const p = new Promise<TspTestResponse>((resolve, reject) =>
      this.#pending.push({ resolve, reject })
    );
    this.#handle(this.#session.handle({ kind: "command", now: Date.now(), message }));
    return p;
  }

  /** Wait for a push matching `pred` (already received ones count). */
  waitForPush(pred: (m: TunnelMessage) => boolean, timeoutMs = 5000): Promise<TunnelMessage> {
    const seen = this.pushes.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error("no matching push")), timeoutMs);
      this.#pushWaiters.push({
        pred,
        resolve: (m) => {
          clearTimeout(t);
          resolve(m);
        },
      });
    });
  }

  /** Over UDP: send an empty datagram so the server can hand over a queued push. */
  poll(): void {
    if (!this.#link || this.ended !== undefined) return;
    this.#linkActions(
      this.#link.handle({ kind: "send", now: Date.now(), payload: new Uint8Array(0) }),
    );
  }

  /** Resolves once the session has ended (either side). */
  whenEnded(): Promise<void> {
    if (this.ended !== undefined) return Promise.resolve();
    return new Promise((r) => this.#endWaiters.push(r));
  }

  /** End the session and close the transport. */
  async close(): Promise<void> {
    if (this.ended === undefined) {
      this.#handle(this.#session.handle({ kind: "close", now: Date.now() }));
    }
    this.#teardown("closed by the test");
    await new Promise((r) => setTimeout(r, 5));
  }

  /** Drop the transport abruptly (RST for TCP), as a crashed peer would. */
  destroy(): void {
    this.#sock?.destroy();
    this.#teardown("destroyed by the test");
  }

  #open(): void {
    const o = this.#o;
    if (o.transport === "udp") {
      const s = dgram.createSocket(o.host.includes(":") ? "udp6" : "udp4");
      this.#udp = s;
      this.#link = new UdpClientLink(o.udp ?? { initialRtoMs: 500, minRtoMs: 200 });
      s.on("message", (m: Uint8Array) => {
        if (!this.#link) return;
        this.#linkActions(
          this.#link.handle({
            kind: "datagram",
            now: Date.now(),
            bytes: new Uint8Array(m.buffer, m.byteOffset, m.byteLength),
          }),
        );
      });
      s.on("error", () => this.#teardown("udp socket error"));
      s.bind(0, () => this.#handle(this.#session.handle({ kind: "connected", now: Date.now() })));
      return;
    }
    const sock = net.connect({
      host: o.host,
      port: o.port,
      ...(o.localAddress ? { localAddress: o.localAddress } : {}),
    });
    this.#sock = sock;
    sock.setNoDelay(true);
    sock.on(
      "connect",
      () => this.#handle(this.#session.handle({ kind: "connected", now: Date.now() })),
    );
    sock.on("data", (d: Uint8Array) => {
      if (this.#sock !== sock) return;
      this.#handle(
        this.#session.handle({
          kind: "data",
          now: Date.now(),
          bytes: new Uint8Array(d.buffer, d.byteOffset, d.byteLength),
        }),
      );
    });
    sock.on("error", () => {});
    sock.on("close", () => {
      if (this.#sock !== sock) return;
      this.#handle(this.#session.handle({ kind: "closed", now: Date.now() }));
      this.#teardown("server closed the connection");
    });
  }

  #linkActions(actions: ReturnType<UdpClientLink["handle"]>): void {
    for (const a of actions) {
      if (a.kind === "transmit") this.#udp?.send(a.bytes, this.#o.port, this.#o.host);
      else if (a.kind === "deliver") {
        this.#handle(this.#session.handle({ kind: "data", now: Date.now(), bytes: a.payload }));
      } else if (a.kind === "give-up") {
        this.#handle(this.#session.handle({ kind: "closed", now: Date.now() }));
        this.#teardown("udp: no answer");
      }
    }
    this.#pollIfNeeded();
    this.#arm();
  }

  #pollIfNeeded(): void {
    const link = this.#link;
    if (link && this.ended === undefined && link.idle && this.#session.awaitingServer()) {
      this.#linkActions(link.handle({ kind: "send", now: Date.now(), payload: new Uint8Array(0) }));
    }
  }

  #handle(actions: ClientAction[]): void {
    for (const a of actions) {
      this.actions.push(a);
      switch (a.kind) {
        case "send":
          if (this.#link) {
            this.#linkActions(
              this.#link.handle({ kind: "send", now: Date.now(), payload: a.bytes }),
            );
          } else this.#sock?.write(a.bytes);
          break;
        case "reconnect": {
          const old = this.#sock;
          this.#sock = undefined;
          old?.destroy();
          if (this.#link) {
            this.#handle(this.#session.handle({ kind: "connected", now: Date.now() }));
          } else this.#open();
          break;
        }
        case "ready":
          this.version = a.version;
          for (const w of this.#readyWaiters.splice(0)) w.resolve();
          break;
        case "response":
          this.#pending.shift()?.resolve({
            command: a.command,
            status: a.status,
            ...(a.message ? { message: a.message } : {}),
            ...(a.accepted === undefined ? {} : { accepted: a.accepted }),
          });
          break;
        case "push":
          this.pushes.push(a.message);
          for (const w of [...this.#pushWaiters]) {
            if (w.pred(a.message)) {
              this.#pushWaiters.splice(this.#pushWaiters.indexOf(w), 1);
              w.resolve(a.message);
            }
          }
          break;
        case "failed": {
          const e = new Error(
            `TSP ${a.stage} failure: ${a.reason}${a.status ? ` (${a.status.code})` : ""}`,
          );
          (e as Error & { status?: StatusLine }).status = a.status;
          for (const w of this.#readyWaiters.splice(0)) w.reject(e);
          for (const p of this.#pending.splice(0)) p.reject(e);
          this.ended ??= e.message;
          break;
        }
        case "close":
          this.#teardown(a.reason);
          break;
        default:
          break;
      }
    }
    this.#arm();
  }

  #arm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.ended !== undefined) return;
    const due = [this.#session.pollAt(), this.#link?.pollAt() ?? null].filter((x) =>
      x !== null
    ) as number[];
    if (due.length === 0) return;
    const at = Math.min(...due);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const now = Date.now();
      if (this.#link) this.#linkActions(this.#link.handle({ kind: "tick", now }));
      this.#handle(this.#session.handle({ kind: "tick", now }));
    }, Math.max(0, at - Date.now()));
  }

  #teardown(reason: string): void {
    this.ended ??= reason;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const err = new Error(`session ended: ${reason}`);
    for (const w of this.#readyWaiters.splice(0)) w.reject(err);
    for (const p of this.#pending.splice(0)) p.reject(err);
    this.#sock?.end();
    const s = this.#sock;
    if (s) setTimeout(() => s.destroy(), 200).unref();
    this.#sock = undefined;
    if (this.#udp) {
      try {
        this.#udp.close();
      } catch { /* closed */ }
      this.#udp = undefined;
    }
    this.#link = undefined;
    for (const w of this.#endWaiters.splice(0)) w();
  }
}

/** One `create` per connection, like gogoc: connect, authenticate, send, close. */
export async function tspOnce(
  o: TspTestPeerOptions,
  command: CommandMessage,
): Promise<TspTestResponse> {
  const peer = await TspTestPeer.connect(o);
  try {
    return await peer.command(command);
  } finally {
    await peer.close();
  }
}

/** A raw UDP socket for hand-made TSP datagrams (header included). */
export interface RawUdp {
  /** Send `payload` with this header; resolve with the reply (header and payload). */
  send(
    sequence: number,
    payload: Uint8Array | string,
    timestamp?: number,
  ): Promise<{ sequence: number; timestamp: number; payload: Uint8Array; bytes: Uint8Array }>;
  /** Close the socket. */
  close(): void;
}

/** Open a raw UDP socket to a TSP server. */
export function rawUdp(host: string, port: number, timeoutMs = 3000): Promise<RawUdp> {
  const s = dgram.createSocket(host.includes(":") ? "udp6" : "udp4");
  const waiting: ((m: Uint8Array) => void)[] = [];
  s.on("message", (m: Uint8Array) => {
    waiting.shift()?.(new Uint8Array(m.buffer, m.byteOffset, m.byteLength).slice());
  });
  return new Promise((resolve) => {
    s.bind(0, () =>
      resolve({
        send(sequence, payload, timestamp = 0x12345678) {
          const body = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
          const d = encodeUdpDatagram({ sequence, timestamp }, body);
          return new Promise((res, rej) => {
            const t = setTimeout(() => rej(new Error("no UDP reply")), timeoutMs);
            waiting.push((m) => {
              clearTimeout(t);
              const p = parseUdpDatagram(m);
              if (!p.ok) return rej(new Error(`bad reply: ${p.reason}`));
              res({
                sequence: p.header.sequence,
                timestamp: p.header.timestamp,
                payload: p.payload.slice(),
                bytes: m,
              });
            });
            s.send(d, port, host);
          });
        },
        close() {
          try {
            s.close();
          } catch { /* closed */ }
        },
      }));
  });
}

/** Frame `xml` as a TSP command (`Content-length` counts the XML and its CR LF). */
export function frameCommand(xml: string): string {
  const body = xml + "\r\n";
  return `Content-length: ${new TextEncoder().encode(body).length}\r\n${body}`;
}

/** A raw TCP connection that records what the server sends, chunk by chunk. */
export interface RawTcp {
  /** Received chunks, in order (one per `data` event). */
  readonly chunks: Uint8Array[];
  /** All received bytes as text (latin1, so NULs and binary survive). */
  text(): string;
  /** Write bytes or text. */
  write(data: Uint8Array | string): void;
  /** Wait until the received text matches `re` (or throw after `timeoutMs`). */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves when the server closed the connection. */
  readonly closed: Promise<void>;
  /** True once closed. */
  isClosed(): boolean;
  /** Close our side. */
  destroy(): void;
}

/** Open a raw TCP connection (resolves once connected). */
export function rawTcp(host: string, port: number): Promise<RawTcp> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port });
    const chunks: Uint8Array[] = [];
    let closedFlag = false;
    let onClose!: () => void;
    const closed = new Promise<void>((r) => onClose = r);
    const latin1 = new TextDecoder("latin1");
    const text = () => chunks.map((c) => latin1.decode(c)).join("");
    s.on("data", (d: Uint8Array) => chunks.push(new Uint8Array(d)));
    s.on("error", () => {});
    s.on("close", () => {
      closedFlag = true;
      onClose();
    });
    s.once("error", reject);
    s.on("connect", () => {
      s.setNoDelay(true);
      resolve({
        chunks,
        text,
        write: (data) => {
          if (!s.destroyed) s.write(data);
        },
        async waitFor(re, timeoutMs = 3000) {
          const end = Date.now() + timeoutMs;
          while (!re.test(text())) {
            if (Date.now() > end) {
              throw new Error(`no ${re} in ${JSON.stringify(text().slice(0, 300))}`);
            }
            if (closedFlag && !re.test(text())) {
              throw new Error(`closed without ${re}: ${JSON.stringify(text().slice(0, 300))}`);
            }
            await new Promise((r) => setTimeout(r, 10));
          }
          return text();
        },
        closed,
        isClosed: () => closedFlag,
        destroy: () => s.destroy(),
      });
    });
  });
}
