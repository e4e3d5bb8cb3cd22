/**
 * Test-only golden packets captured with `tcpdump -i lo -xx` on Linux 6.18 (the 14-byte
 * Ethernet header of the loopback capture removed). Not re-exported from `mod.ts`.
 *
 * @module
 */
import { hex } from "./_testing.ts";

/** `ping -c1 -p 61626364 127.0.0.1`: ICMPv4 echo request, id 0x12bc, seq 1, DF. */
export const PING4_REQUEST: Uint8Array = hex(`
  4500 0054 0e4b 4000 4001 2e5c 7f00 0001 7f00 0001 0800 50fa 12bc 0001 9ef6 076b
  0000 0000 3423 0a00 0000 0000 6162 6364 6162 6364 6162 6364 6162 6364 6162 6364
  6162 6364 6162 6364 6162 6364 6162 6364 6162 6364`);

/** The kernel's echo reply to it. */
export const PING4_REPLY: Uint8Array = hex(`
  4500 0054 0e4c 0000 4001 6e5b 7f00 0001 7f00 0001 0000 58fa 12bc 0001 9ef6 076b
  0000 0000 3423 0a00 0000 0000 6162 6364 6162 6364 6162 6364 6162 6364 6162 6364
  6162 6364 6162 6364 6162 6364 6162 6364 6162 6364`);

/** `ping -6 -c1 ::1`: ICMPv6 echo request, id 0x12bd, seq 1, flow label 0x75aea. */
export const PING6_REQUEST: Uint8Array = hex(`
  6007 5aea 0040 3a40 0000 0000 0000 0000 0000 0000 0000 0001 0000 0000 0000 0000
  0000 0000 0000 0001 8000 ce67 12bd 0001 9ef6 076b 0000 0000 2f29 0a00 0000 0000
  1011 1213 1415 1617 1819 1a1b 1c1d 1e1f 2021 2223 2425 2627 2829 2a2b 2c2d 2e2f
  3031 3233 3435 3637`);

/** The kernel's echo reply to it. */
export const PING6_REPLY: Uint8Array = hex(`
  6009 6f46 0040 3a40 0000 0000 0000 0000 0000 0000 0000 0001 0000 0000 0000 0000
  0000 0000 0000 0001 8100 cd67 12bd 0001 9ef6 076b 0000 0000 2f29 0a00 0000 0000
  1011 1213 1415 1617 1819 1a1b 1c1d 1e1f 2021 2223 2425 2627 2829 2a2b 2c2d 2e2f
  3031 3233 3435 3637`);

/** UDP "hello dstm" 127.0.0.1:34511 -> 127.0.0.1:9 (UDP checksum left to offload: wrong). */
export const UDP4: Uint8Array = hex(`
  4500 0026 cb58 4000 4011 716c 7f00 0001 7f00 0001 86cf 0009 0012 fe25 6865 6c6c
  6f20 6473 746d`);

/** The kernel's ICMPv4 3/3 (port unreachable) about UDP4: TOS 0xc0, id 3667. */
export const PORT_UNREACH4: Uint8Array = hex(`
  45c0 0042 0e53 0000 4001 6da6 7f00 0001 7f00 0001 0303 5b19 0000 0000 4500 0026
  cb58 4000 4011 716c 7f00 0001 7f00 0001 86cf 0009 0012 fe25 6865 6c6c 6f20 6473
  746d`);

/** UDP "hello dstm" [::1]:59432 -> [::1]:9 (UDP checksum left to offload: wrong). */
export const UDP6: Uint8Array = hex(`
  600e 0982 0012 1140 0000 0000 0000 0000 0000 0000 0000 0001 0000 0000 0000 0000
  0000 0000 0000 0001 e828 0009 0012 0025 6865 6c6c 6f20 6473 746d`);

/** The kernel's ICMPv6 1/4 (port unreachable) about UDP6: flow label 0x2209e. */
export const PORT_UNREACH6: Uint8Array = hex(`
  6002 209e 0042 3a40 0000 0000 0000 0000 0000 0000 0000 0001 0000 0000 0000 0000
  0000 0000 0000 0001 0104 7e5d 0000 0000 600e 0982 0012 1140 0000 0000 0000 0000
  0000 0000 0000 0001 0000 0000 0000 0000 0000 0000 0000 0001 e828 0009 0012 0025
  6865 6c6c 6f20 6473 746d`);

/** `n` bytes counting 0, 1, ..., 255, 0, 1, ... (the payloads Python sent below). */
export function counting(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = i & 0xff;
  return b;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  n = 0;
  for (const p of parts) {
    out.set(p, n);
    n += p.length;
  }
  return out;
}

/**
 * UDP "ext headers dstm" [::1]:50600 -> [::1]:9 sent with `IPV6_HOPOPTS` (a Hop-by-Hop header
 * holding PadN) and `IPV6_DSTOPTS` (a Destination Options header holding a Tunnel Encapsulation
 * Limit option, type 4, limit 4, then PadN: the RFC 2473 §4.1.1 layout).
 */
export const EXT6_UDP: Uint8Array = hex(`
  600a 0f4c 0028 0040 0000 0000 0000 0000 0000 0000 0000 0001 0000 0000 0000 0000
  0000 0000 0000 0001 3c00 0104 0000 0000 1100 0401 0401 0100 c5a8 0009 0018 e534
  6578 7420 6865 6164 6572 7320 6473 746d`);

/** The kernel's ICMPv6 1/4 about {@link EXT6_UDP}, quoting all of it. */
export const EXT6_UNREACH: Uint8Array = concat(
  hex(`
  6002 209e 0058 3a40 0000 0000 0000 0000 0000 0000 0000 0001 0000 0000 0000 0000
  0000 0000 0000 0001 0104 37cc 0000 0000`),
  EXT6_UDP,
);

/** UDP [::1]:54700 -> [::1]:9 carrying 2560 counting bytes (2608 bytes on the wire). */
export const BIG6_UDP: Uint8Array = concat(
  hex(`
  6007 a92e 0a08 1140 0000 0000 0000 0000 0000 0000 0000 0001 0000 0000 0000 0000
  0000 0000 0000 0001 d5ac 0009 0a08 93a9`),
  counting(2560),
);

/** The kernel's ICMPv6 1/4 about {@link BIG6_UDP}: 1280 bytes, quoting its first 1232. */
export const BIG6_UNREACH: Uint8Array = concat(
  hex(`
  6002 209e 04d8 3a40 0000 0000 0000 0000 0000 0000 0000 0001 0000 0000 0000 0000
  0000 0000 0000 0001 0104 97e8 0000 0000`),
  BIG6_UDP.subarray(0, 1232),
);

// In a network namespace with `ip route replace local 192.0.2.2 dev lo mtu lock 576 table local`
// and IP_PMTUDISC_DONT, UDP 192.0.2.1:58270 -> 192.0.2.2:9 carrying 1024 counting bytes was
// fragmented by the kernel:

/** First fragment (MF, offset 0, 572 bytes). */
export const FRAG4_FIRST: Uint8Array = concat(
  hex("4500 023c 1596 2000 4011 bf17 c000 0201 c000 0202 e39e 0009 0408 8f33"),
  counting(544),
);

/** Last fragment (offset 552, 500 bytes). */
export const FRAG4_LAST: Uint8Array = concat(
  hex("4500 01f4 1596 0045 4011 df1a c000 0201 c000 0202"),
  counting(1024).subarray(544),
);

/** The reassembled datagram, as the kernel quoted it (1052 bytes). */
export const REASSEMBLED4: Uint8Array = concat(
  hex("4500 041c 1596 0000 4011 dd37 c000 0201 c000 0202 e39e 0009 0408 8f33"),
  counting(1024),
);

/** The kernel's ICMPv4 3/3 about {@link REASSEMBLED4}: 576 bytes (RFC 1812), id 0xfb84. */
export const FRAG4_UNREACH: Uint8Array = concat(
  hex("45c0 0240 fb84 0000 4001 f874 c000 0202 c000 0201 0303 f989 0000 0000"),
  REASSEMBLED4.subarray(0, 548),
);
