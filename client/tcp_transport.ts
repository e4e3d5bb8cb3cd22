/**
 * The TSP transport: TCP over `node:net` (Deno and Bun), bound to the registered IPv6 address
 * when it is known so that the server sees the address the client registers and tunnels from
 * (protocol.md §1.3 step 1, §4.1).
 *
 * @module
 */
import net from "node:net";

/** Callbacks of one transport. After {@link Transport.close} none is called. */
export interface TransportHandlers {
  /** The connection is open; `localAddress` is its local IPv6 address. */
  connected(localAddress: string): void;
  /** Bytes from the server. */
  data(bytes: Uint8Array): void;
  /** The connection ended or could not be made. */
  closed(reason: string): void;
}

/** One connection to the server. */
export interface Transport {
  /** Write bytes (queued until connected). */
  write(bytes: Uint8Array): void;
  /** Close; no callback follows. */
  close(): void;
}

/** Where to connect. */
export interface TransportTarget {
  /** Server IPv6 address. */
  readonly host: string;
  /** Server port. */
  readonly port: number;
  /** Local address to bind, if known. */
  readonly localAddress?: string;
}

/** Opens transports. */
export type Connect = (target: TransportTarget, handlers: TransportHandlers) => Transport;

/** A {@link Connect} over TCP with a connect timeout. */
export function tcpConnect(connectTimeoutMs = 10_000): Connect {
  return (target, h) => {
    let live = true;
    const sock = net.createConnection({
      host: target.host,
      port: target.port,
      family: 6,
      ...(target.localAddress ? { localAddress: target.localAddress } : {}),
    });
    sock.setNoDelay(true);
    const timer = setTimeout(() => {
      if (!live) return;
      live = false;
      sock.destroy();
      h.closed(`no connection to [${target.host}]:${target.port} within ${connectTimeoutMs} ms`);
    }, connectTimeoutMs);
    sock.on("connect", () => {
      clearTimeout(timer);
      if (live) h.connected(sock.localAddress ?? "");
    });
    sock.on("data", (d: Uint8Array) => {
      if (live) h.data(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
    });
    sock.on("error", (e: Error) => {
      clearTimeout(timer);
      if (!live) return;
      live = false;
      sock.destroy();
      h.closed(e.message);
    });
    sock.on("close", () => {
      clearTimeout(timer);
      if (!live) return;
      live = false;
      h.closed("connection closed by the server");
    });
    return {
      write(bytes) {
        if (live) sock.write(bytes);
      },
      close() {
        live = false;
        clearTimeout(timer);
        sock.end();
        setTimeout(() => sock.destroy(), 1000).unref?.();
      },
    };
  };
}
