/**
 * Test helper for the client namespace test: a TCP echo server on the IPv4-only host, and a
 * sender on the client host that pushes bytes through the DSTM tunnel and checks the echo.
 *
 * - `serve HOST PORT`: echo every connection; prints `{"event":"ready"}`.
 * - `send HOST PORT BYTES`: send BYTES of a pattern, read them back, print
 *   `{"event":"done","ok":true,"bytes":N,"ms":T}` (or `"ok":false` with a reason), exit.
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
  let ok = true;
  const sock = net.createConnection({ host, port });
  const timer = setTimeout(() => {
    emit({ event: "done", ok: false, reason: `timeout after ${got} bytes` });
    process.exit(1);
  }, 20_000);
  sock.on("connect", () => sock.write(data));
  sock.on("data", (d: Uint8Array) => {
    for (let i = 0; i < d.length; i++) if (d[i] !== data[got + i]) ok = false;
    got += d.length;
    if (got >= total) {
      clearTimeout(timer);
      emit({ event: "done", ok: ok && got === total, bytes: got, ms: Date.now() - t0 });
      sock.end();
      process.exit(0);
    }
  });
  sock.on("error", (e) => {
    clearTimeout(timer);
    emit({ event: "done", ok: false, reason: e.message });
    process.exit(1);
  });
} else {
  process.stderr.write("usage: tcp_echo.ts serve HOST PORT | send HOST PORT BYTES\n");
  process.exit(2);
}
