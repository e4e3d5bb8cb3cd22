/**
 * Test helper for the client namespace test: from a host outside the domain's TEP prefixes,
 * send IPv4-in-IPv6 packets (ICMPv4 echo requests to the client's lease) to the client's IPv6
 * address. The client must drop and count them (`source-not-tep`).
 *
 * argv[2]: JSON `{ "local": IPV6, "to": IPV6, "innerSrc": IPV4, "innerDst": IPV4, "count": N }`;
 * prints `{"event":"sent","count":N}`.
 */
import process from "node:process";
import { parseIpv4, parseIpv6 } from "../../lib/addr/mod.ts";
import { writeIcmpv4Echo } from "../../lib/inet/mod.ts";
import { openIpipSocket } from "../../lib/sys/mod.ts";

const cfg = JSON.parse(process.argv[2] ?? "{}");
const to = parseIpv6(cfg.to);
const src = parseIpv4(cfg.innerSrc);
const dst = parseIpv4(cfg.innerDst);
if (!to.ok || !src.ok || !dst.ok) throw new Error("bad addresses");
const sock = openIpipSocket({ local: cfg.local, nonBlocking: false });
const out = new Uint8Array(128);
let sent = 0;
for (let i = 0; i < cfg.count; i++) {
  const n = writeIcmpv4Echo({
    reply: false,
    identifier: 0x4242,
    sequence: i,
    data: new Uint8Array(16),
    src: src.value,
    dst: dst.value,
  }, out);
  if (sock.send(out, n, to.value) === n) sent++;
}
sock.close();
process.stdout.write(JSON.stringify({ event: "sent", count: sent }) + "\n");
