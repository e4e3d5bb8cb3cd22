// A tiny TCP echo for the demo and tests (runs on node, deno or bun).
//   serve PORT COUNT            echo COUNT connections, then exit
//   exchange HOST PORT BYTES    send BYTES random bytes, check the echo, print a summary
import net from "node:net";
import crypto from "node:crypto";

const [mode, a, b, c] = process.argv.slice(2);
if (mode === "serve") {
  let left = Number(b ?? 1);
  const srv = net.createServer((s) => {
    s.pipe(s);
    s.on("close", () => {
      if (--left <= 0) srv.close();
    });
  });
  srv.listen(Number(a), "0.0.0.0");
} else if (mode === "exchange") {
  const size = Number(c);
  const data = crypto.randomBytes(size);
  const t0 = Date.now();
  const s = net.connect(Number(b), a, () => s.end(data));
  const got = [];
  let n = 0;
  s.on("data", (d) => {
    got.push(d);
    n += d.length;
  });
  s.on("end", () => {
    const ok = Buffer.concat(got).equals(data);
    const ms = Date.now() - t0;
    if (!ok) {
      console.error(`echo mismatch: sent ${size} bytes, got ${n}`);
      process.exit(1);
    }
    console.log(`${size / 1024} KiB sent and echoed intact in ${ms} ms`);
    process.exit(0);
  });
  s.on("error", (e) => {
    console.error(e.message);
    process.exit(1);
  });
  setTimeout(() => {
    console.error("timeout");
    process.exit(1);
  }, 15000);
}
