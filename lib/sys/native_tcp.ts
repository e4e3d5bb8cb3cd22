/**
 * The runtime's own TCP sockets where it has them: Bun's `Bun.listen` / `Bun.connect` (no stream
 * objects per connection; about half the CPU per connection of its `node:net` layer). Under Deno
 * {@link nativeTcp} is `undefined` and callers use `node:net`.
 *
 * The shapes below are the part of Bun's socket API that dstm uses: `write` takes what the kernel
 * takes now and returns the count (the caller queues the rest and writes it on `drain`); `end`
 * closes after the kernel has sent what it took; `terminate` closes at once. Each socket has a
 * `data` slot for the caller's per-connection state.
 *
 * @module
 */

/** An open native TCP socket; `T` is what the caller keeps in its `data` slot. */
export interface NativeTcpSocket<T> {
  /** Peer address text. */
  readonly remoteAddress: string;
  /** Peer port. */
  readonly remotePort?: number;
  /** The caller's per-connection state. */
  data: T | undefined;
  /** Write what the kernel takes now; returns the bytes taken (may be fewer, or -1). */
  write(b: Uint8Array): number;
  /** Close after what was taken is sent. */
  end(): void;
  /** Close now. */
  terminate(): void;
  /** Nagle off (`true`). */
  setNoDelay?(on: boolean): boolean;
  /** TCP keepalive. */
  setKeepAlive?(on: boolean, delayMs: number): boolean;
}

/** Event handlers of native sockets (called by the runtime). */
export interface NativeTcpHandlers<T> {
  /** A connection is open (accepted, or connected). */
  open(s: NativeTcpSocket<T>): void;
  /** Bytes arrived (a Buffer under Bun; use at once, it may be reused). */
  data(s: NativeTcpSocket<T>, d: Uint8Array): void;
  /** The kernel takes more. */
  drain(s: NativeTcpSocket<T>): void;
  /** The peer closed its side (FIN). */
  end?(s: NativeTcpSocket<T>): void;
  /** The socket is closed. */
  close(s: NativeTcpSocket<T>): void;
  /** An error on the socket. */
  error(s: NativeTcpSocket<T>, e: Error): void;
  /** A connect attempt failed (client sockets). */
  connectError?(s: NativeTcpSocket<T>, e: Error): void;
}

/** A native listener. */
export interface NativeTcpListener {
  /** Bound address. */
  readonly hostname: string;
  /** Bound port. */
  readonly port: number;
  /** Stop accepting; with `true` also close the open connections. */
  stop(closeActive?: boolean): void;
}

/** The runtime's native TCP API. */
export interface NativeTcp {
  /** Listen on `hostname`:`port`; throws if the address cannot be bound. */
  listen<T>(o: { hostname: string; port: number; socket: NativeTcpHandlers<T> }): NativeTcpListener;
  /** Connect to `hostname`:`port`; the promise rejects if the connection fails. */
  connect<T>(o: { hostname: string; port: number; socket: NativeTcpHandlers<T> }): Promise<unknown>;
}

/** Bun's native TCP sockets, or `undefined` on a runtime without them (Deno: use `node:net`). */
export const nativeTcp: NativeTcp | undefined = (globalThis as { Bun?: NativeTcp }).Bun;
