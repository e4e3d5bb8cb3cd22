/**
 * Traffic generator of bench_io.ts: sends UDP datagrams to `dst:9` as fast as one thread can
 * for `seconds`, then prints `{"event":"done","sent":n,"errors":n,"seconds":s}`.
 *
 * argv[2]: JSON `{ dst: "198.51.100.7", size: 64, seconds: 2 }` (size = UDP payload bytes).
 */
import process from "node:process";
import { parseIpv4 } from "../../lib/sys/ip_text.ts";
import { libc } from "../../lib/sys/libc.ts";
import { LINUX } from "../../lib/sys/linux_constants.ts";
import { emit } from "./probe_io.ts";

const cfg = JSON.parse(process.argv[2]) as { dst: string; size: number; seconds: number };
const c = libc();
const fd = c.socket(LINUX.AF_INET, LINUX.SOCK_DGRAM | LINUX.SOCK_CLOEXEC, 0);
if (fd < 0) throw new Error(`socket: errno ${c.errno()}`);
// struct sockaddr_in: family (host order), port 9 (network order), address.
const sa = new Uint8Array(16);
new DataView(sa.buffer).setUint16(0, LINUX.AF_INET, true);
sa[2] = 0;
sa[3] = 9;
sa.set(parseIpv4(cfg.dst)!, 4);
const payload = new Uint8Array(cfg.size);
let sent = 0;
let errors = 0;
const t0 = performance.now();
const end = t0 + cfg.seconds * 1000;
for (;;) {
  for (let i = 0; i < 1024; i++) {
    if (c.sendto(fd, payload, payload.length, 0, sa, 16) >= 0) sent++;
    else errors++;
  }
  if (performance.now() >= end) break;
}
const seconds = (performance.now() - t0) / 1000;
emit("done", { sent, errors, seconds });
process.exit(0);
