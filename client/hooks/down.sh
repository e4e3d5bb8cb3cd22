#!/bin/sh
# Example down hook for dstm-client (--down). It runs before the leased address and routes are
# removed (DSTM_EVENT=down); DSTM_REASON says why: expired, refused (the server answered 308),
# deleted (the server sent delete), stopped (SIGTERM/SIGINT) or replaced (a renewal brought
# another address). The other DSTM_* variables are those of up.sh.
set -eu

echo "DSTM lease $DSTM_IPV4 on $DSTM_INTERFACE going down: $DSTM_REASON"
if command -v nft >/dev/null 2>&1; then
  nft delete table inet dstm_client 2>/dev/null || true
fi
