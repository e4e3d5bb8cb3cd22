/**
 * The control channel over a Unix socket (`node:net`, on Deno and Bun): one JSON request per
 * line, one JSON response per line. Used by `dstm-server ctl`, `dstm-tep ctl`, `dstm-client ctl`.
 */
import net from "node:net";
import fs from "node:fs";
import {
  CTL_MAX_LINE,
  type CtlRequest,
  type CtlResponse,
  parseCtlRequest,
} from "../ctl/protocol.ts";

/** Answers one control request. */
export type CtlHandler = (req: CtlRequest) => CtlResponse | Promise<CtlResponse>;

/** A running control server. */
export interface ControlServer {
  /** Stop listening and remove the socket file. */
  close(): Promise<void>;
}

/**
 * Listen on the Unix socket `path` (a stale socket file is replaced) and answer requests with
 * `handler`. The socket is made mode 0600: only its owner may control the daemon.
 */
export async function serveControl(path: string, handler: CtlHandler): Promise<ControlServer> {
  try {
    if (fs.statSync(path).isSocket()) fs.unlinkSync(path);
  } catch { /* no stale socket */ }
  const server = net.createServer((sock) => {
    let buf = "";
    sock.setEncoding("utf8");
    sock.on("error", () => sock.destroy());
    sock.on("data", async (chunk: string) => {
      buf += chunk;
      if (buf.length > CTL_MAX_LINE) {
        sock.end(JSON.stringify({ result: 1, text: "request too long" }) + "\n");
        return;
      }
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const parsed = parseCtlRequest(line);
        let resp: CtlResponse;
        if (!parsed.ok) resp = { result: 1, text: `bad request: ${parsed.reason}` };
        else {
          try {
            resp = await handler(parsed.request);
          } catch (e) {
            resp = { result: 1, text: `error: ${(e as Error).message}` };
          }
        }
        if (!sock.destroyed) sock.write(JSON.stringify(resp) + "\n");
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => {
      server.off("error", reject);
      resolve();
    });
  });
  try {
    fs.chmodSync(path, 0o600);
  } catch { /* best effort */ }
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        try {
          fs.unlinkSync(path);
        } catch { /* already gone */ }
      }),
  };
}

/** Send one request to the control socket at `path` and await the response. */
export function callControl(
  path: string,
  request: CtlRequest,
  timeoutMs = 5000,
): Promise<CtlResponse> {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection(path);
    let buf = "";
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no answer from ${path} within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.setEncoding("utf8");
    sock.on("connect", () => sock.write(JSON.stringify(request) + "\n"));
    sock.on("data", (d: string) => {
      buf += d;
      const nl = buf.indexOf("\n");
      if (nl < 0) return;
      clearTimeout(timer);
      sock.end();
      try {
        resolve(JSON.parse(buf.slice(0, nl)) as CtlResponse);
      } catch {
        reject(new Error(`bad answer from ${path}`));
      }
    });
    sock.on("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        new Error(
          e.code === "ENOENT" || e.code === "ECONNREFUSED"
            ? `cannot reach the control socket ${path} (${e.code}): is the daemon running?`
            : `control socket ${path}: ${e.message}`,
        ),
      );
    });
  });
}
