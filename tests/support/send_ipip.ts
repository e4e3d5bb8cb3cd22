/**
 * Test helper (client namespace and e2e tests; run inside a namespace): send IPv4-in-IPv6 packets, each an ICMPv4
 * echo request, on a raw IPIP socket bound to `local`. Used by the spoofer (to a TEP, inner
 * source = another client's lease) and by the outsider (to a client, inner destination = its
 * lease).
 *
 * argv[2]: JSON `{ "local": IPV6, "to": IPV6, "innerSrc": IPV4, "innerDst": IPV4, "count": N }`;
 * prints `{"event":"sent","sent":N}` (how many the kernel took).
 *
 * @module
 */
import process from "node:process";
import { parseIpv4, parseIpv6 } from "../../lib/addr/mod.ts";
import { writeIcmpv4Echo } from "../../lib/inet/mod.ts";
import { openIpipSocket } from "../../lib/sys/mod.ts";

const cfg = JSON.parse(process.argv[2] ?? "{}") as {
  local: string;
  to: string;
  innerSrc: string;
  innerDst: string;
  count: number;
};
const to = parseIpv6(cfg.to);
const src = parseIpv4(cfg.innerSrc);
const dst = parseIpv4(cfg.innerDst);
if (!to.ok || !src.ok || !dst.ok) {
  process.stderr.write(`send_ipip: bad addresses in ${process.argv[2]}\n`);
  process.exit(2);
}
const sock = openIpipSocket({ local: cfg.local, nonBlocking: false });
const out = new Uint8Array(128);
let sent = 0;
for (let i = 0; i < cfg.count; i++) {
  const n = writeIcmpv4Echo({
    reply: false,
    identifier: 0x5e2e,
    sequence: i,
    data: new Uint8Array(16),
    src: src.value,
    dst: dst.value,
  }, out);
  if (sock.send(out, n, to.value) === n) sent++;
}
sock.close();
process.stdout.write(JSON.stringify({ event: "sent", sent }) + "\n");
