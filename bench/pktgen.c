/*
 * dstm bench traffic generator: crafted Ethernet frames on an AF_PACKET socket with sendmmsg(2)
 * and PACKET_QDISC_BYPASS, so the generator costs little CPU next to what it measures.
 * Compiled at bench time by bench/run.sh (gcc -O2). Run it inside the generator's namespace.
 *
 *   pktgen IFNAME DST_MAC MODE SIZE SECONDS PPS SRC4 DST4 [SRC6 DST6]
 *
 *   MODE    udp4  : IPv4/UDP of SIZE bytes (total IPv4 length)
 *           ipip6 : IPv6 (SRC6 -> DST6, next header 4) carrying IPv4/UDP of SIZE bytes
 *   PPS     0 = as fast as possible; otherwise paced in batches to that rate
 *
 * Prints one JSON line: {"sent":n,"errors":n,"seconds":s}. UDP ports vary over 64 flows.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define FLOWS 64
#define MAXF 1600

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint16_t csum(const uint8_t *p, int n) {
  uint32_t s = 0;
  for (int i = 0; i + 1 < n; i += 2) s += (p[i] << 8) | p[i + 1];
  if (n & 1) s += p[n - 1] << 8;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return (uint16_t)~s;
}

static int parse_mac(const char *s, uint8_t *m) {
  return sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) == 6
             ? 0
             : -1;
}

/* IPv4/UDP packet of `size` bytes at p (size >= 28). */
static void ipv4_udp(uint8_t *p, int size, uint32_t src, uint32_t dst, uint16_t sport) {
  memset(p, 0, size);
  p[0] = 0x45;
  p[2] = size >> 8;
  p[3] = size & 0xff;
  p[6] = 0x40; /* DF clear would allow fragmentation; keep DF set like most traffic */
  p[8] = 64;
  p[9] = 17;
  memcpy(p + 12, &src, 4);
  memcpy(p + 16, &dst, 4);
  uint16_t c = csum(p, 20);
  p[10] = c >> 8;
  p[11] = c & 0xff;
  uint8_t *u = p + 20;
  u[0] = sport >> 8;
  u[1] = sport & 0xff;
  u[2] = 0;
  u[3] = 9; /* discard */
  int ul = size - 20;
  u[4] = ul >> 8;
  u[5] = ul & 0xff;
  /* UDP checksum 0: allowed over IPv4 */
  for (int i = 8; i < ul; i++) u[i] = (uint8_t)i;
}

int main(int argc, char **argv) {
  if (argc < 9) {
    fprintf(stderr, "usage: pktgen IFNAME DST_MAC udp4|ipip6 SIZE SECONDS PPS SRC4 DST4 [SRC6 DST6]\n");
    return 2;
  }
  const char *ifname = argv[1];
  uint8_t dmac[6];
  if (parse_mac(argv[2], dmac) < 0) return fprintf(stderr, "bad mac\n"), 2;
  int v6 = strcmp(argv[3], "ipip6") == 0;
  int size = atoi(argv[4]);
  double seconds = atof(argv[5]);
  double pps = atof(argv[6]);
  uint32_t src4, dst4;
  uint8_t src6[16], dst6[16];
  if (inet_pton(AF_INET, argv[7], &src4) != 1 || inet_pton(AF_INET, argv[8], &dst4) != 1)
    return fprintf(stderr, "bad ipv4\n"), 2;
  if (v6 && (argc < 11 || inet_pton(AF_INET6, argv[9], src6) != 1 ||
             inet_pton(AF_INET6, argv[10], dst6) != 1))
    return fprintf(stderr, "bad ipv6\n"), 2;
  if (size < 28 || size + (v6 ? 40 : 0) + 14 > MAXF) return fprintf(stderr, "bad size\n"), 2;
  prctl(PR_SET_TIMERSLACK, 1UL);

  int fd = socket(AF_PACKET, SOCK_RAW, 0);
  if (fd < 0) return perror("socket"), 1;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
  if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0) return perror("SIOCGIFINDEX"), 1;
  int ifindex = ifr.ifr_ifindex;
  if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) return perror("SIOCGIFHWADDR"), 1;
  uint8_t smac[6];
  memcpy(smac, ifr.ifr_hwaddr.sa_data, 6);
  int one = 1;
  setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
  int sndbuf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  struct sockaddr_ll sll;
  memset(&sll, 0, sizeof sll);
  sll.sll_family = AF_PACKET;
  sll.sll_ifindex = ifindex;
  sll.sll_protocol = htons(v6 ? ETH_P_IPV6 : ETH_P_IP);
  if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) return perror("bind"), 1;

  static uint8_t frames[FLOWS][MAXF];
  int flen = 0;
  for (int f = 0; f < FLOWS; f++) {
    uint8_t *e = frames[f];
    memcpy(e, dmac, 6);
    memcpy(e + 6, smac, 6);
    e[12] = v6 ? 0x86 : 0x08;
    e[13] = v6 ? 0xdd : 0x00;
    uint8_t *ip = e + 14;
    if (v6) {
      memset(ip, 0, 40);
      ip[0] = 0x60;
      ip[4] = size >> 8;
      ip[5] = size & 0xff;
      ip[6] = 4;
      ip[7] = 64;
      memcpy(ip + 8, src6, 16);
      memcpy(ip + 24, dst6, 16);
      ipv4_udp(ip + 40, size, src4, dst4, 10000 + f);
      flen = 14 + 40 + size;
    } else {
      ipv4_udp(ip, size, src4, dst4, 10000 + f);
      flen = 14 + size;
    }
  }
  struct iovec iov[BATCH];
  struct mmsghdr msgs[BATCH];
  memset(msgs, 0, sizeof msgs);
  for (int i = 0; i < BATCH; i++) {
    iov[i].iov_base = frames[i % FLOWS];
    iov[i].iov_len = flen;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }

  /* Paced: batches of `burst` packets at their due time (burst sized to ~50 us of traffic). */
  int burst = BATCH;
  if (pps > 0) {
    burst = (int)(pps * 50e-6);
    if (burst < 1) burst = 1;
    if (burst > BATCH) burst = BATCH;
  }
  unsigned long long sent = 0, errors = 0;
  double t0 = now_s();
  double end = t0 + seconds;
  double next = t0;
  for (;;) {
    double t = now_s();
    if (t >= end) break;
    if (pps > 0) {
      if (t < next) {
        double gap = next - t;
        if (gap > 20e-6) {
          struct timespec ts = {0, (long)((gap - 10e-6) * 1e9)};
          nanosleep(&ts, NULL);
        }
        continue;
      }
      next += burst / pps;
      /* Descheduled for a while: do not burst to catch up (the offered rate is what was sent). */
      if (next < t - 4 * burst / pps) next = t;
    }
    int todo = burst;
    while (todo > 0) {
      int r = sendmmsg(fd, msgs, todo, 0);
      if (r < 0) {
        if (errno == EINTR) continue;
        errors += todo;
        break;
      }
      sent += r;
      todo -= r;
    }
  }
  double el = now_s() - t0;
  printf("{\"sent\":%llu,\"errors\":%llu,\"seconds\":%.6f}\n", sent, errors, el);
  return 0;
}
