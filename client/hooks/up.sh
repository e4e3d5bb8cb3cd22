#!/bin/sh
# Example up hook for dstm-client (--up). It runs after the 4over6 interface is up with the
# leased address and routes (DSTM_EVENT=up), and after the tunnel moved to another TEP with the
# same address (DSTM_EVENT=tep-change). A failing hook is logged; the tunnel works without it.
#
# Environment (lib/client/hooks_env.ts): DSTM_EVENT, DSTM_INTERFACE, DSTM_IPV4, DSTM_PREFIXLEN,
# DSTM_LOCAL_IPV6, DSTM_REMOTE_IPV6, DSTM_TEP_IPV4, DSTM_MTU, DSTM_LEASE_EXPIRES,
# DSTM_LEASE_EXPIRES_EPOCH, DSTM_LIFETIME_MINUTES, DSTM_ROUTES, DSTM_SERVER, and for tep-change
# DSTM_PREVIOUS_REMOTE_IPV6 and DSTM_PREVIOUS_TEP_IPV4. Standard output and error go to the
# client's log (event hook.output).
set -eu

case "$DSTM_EVENT" in
up)
  echo "DSTM lease $DSTM_IPV4 on $DSTM_INTERFACE via TEP $DSTM_REMOTE_IPV6 until $DSTM_LEASE_EXPIRES"
  # Clamp the TCP MSS on the tunnel to tunnel MTU - 40 (protocol.md §4.3, operational
  # mitigation), so that TCP never depends on ICMP "fragmentation needed" getting through.
  if command -v nft >/dev/null 2>&1; then
    mss=$((DSTM_MTU - 40))
    nft -f - <<NFT
table inet dstm_client
delete table inet dstm_client
table inet dstm_client {
  chain clamp {
    type filter hook postrouting priority mangle; policy accept;
    oifname "$DSTM_INTERFACE" tcp flags syn tcp option maxseg size set $mss
  }
}
NFT
    echo "TCP MSS clamped to $mss on $DSTM_INTERFACE"
  fi
  ;;
tep-change)
  echo "DSTM lease $DSTM_IPV4 moved from TEP $DSTM_PREVIOUS_REMOTE_IPV6 to $DSTM_REMOTE_IPV6"
  ;;
esac
