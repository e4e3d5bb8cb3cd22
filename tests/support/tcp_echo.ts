/**
 * Test helper (client namespace and e2e tests): a TCP echo server for the IPv4-only host z, and a sender for a client
 * host that pushes bytes through the DSTM tunnel and checks the echo.
 *
 * - `serve HOST PORT`: echo every connection; prints `{"event":"ready"}` once listening.
 * - `send HOST PORT BYTES`: send BYTES of a pattern, read them back, print
 *   `{"event":"done","ok":true,"bytes":N,"ms":T}` and exit 0 (or `"ok":false` with a reason,
 *   exit 1).
 *
 * @module
 */
import net from "node:net";
import process from "node:process";

const [mode, host, portText, bytesText] = process.argv.slice(2);
const port = Number(portText);
const emit = (o: Record<string, unknown>) => process.stdout.write(JSON.stringify(o) + "\n");

if (mode === "serve") {
  const server = net.createServer((s) => {
    s.on("error", () => s.destroy());
    s.pipe(s);
  });
  server.listen(port, host, () => emit({ event: "ready" }));
} else if (mode === "send") {
  const total = Number(bytesText);
  const data = new Uint8Array(total);
  for (let i = 0; i < total; i++) data[i] = (i * 7 + (i >> 8)) & 0xff;
  const t0 = Date.now();
  let got = 0;
  let same = true;
  const sock = net.createConnection({ host, port });
  const fail = (reason: string) => {
    emit({ event: "done", ok: false, reason, bytes: got });
    process.exit(1);
  };
  const timer = setTimeout(() => fail(`timeout after ${got} of ${total} bytes`), 20_000);
  sock.on("connect", () => sock.write(data));
  sock.on("data", (d: Uint8Array) => {
    for (let i = 0; i < d.length && got + i < total; i++) if (d[i] !== data[got + i]) same = false;
    got += d.length;
    if (got >= total) {
      clearTimeout(timer);
      emit({ event: "done", ok: same && got === total, bytes: got, ms: Date.now() - t0 });
      sock.end();
      process.exit(same && got === total ? 0 : 1);
    }
  });
  sock.on("error", (e) => {
    clearTimeout(timer);
    fail(e.message);
  });
} else {
  process.stderr.write("usage: tcp_echo.ts serve HOST PORT | send HOST PORT BYTES\n");
  process.exit(2);
}
