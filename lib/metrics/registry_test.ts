import { test } from "node:test";
import assert from "node:assert/strict";
import { MetricsRegistry } from "./registry.ts";

test("metrics: renders the Prometheus text format", () => {
  const r = new MetricsRegistry();
  let leases = 3;
  r.single("dstm_leases", "gauge", "Live leases.", () => leases);
  r.register({
    name: "dstm_tep_drops_total",
    type: "counter",
    help: "Packets dropped, by reason.",
    samples: () => [[{ reason: "spoofed-source" }, 2], [{ reason: 'a"b' }, 1]],
  });
  leases = 4;
  assert.equal(
    r.render(),
    "# HELP dstm_leases Live leases.\n# TYPE dstm_leases gauge\ndstm_leases 4\n" +
      "# HELP dstm_tep_drops_total Packets dropped, by reason.\n" +
      "# TYPE dstm_tep_drops_total counter\n" +
      'dstm_tep_drops_total{reason="spoofed-source"} 2\n' +
      'dstm_tep_drops_total{reason="a\\"b"} 1\n',
  );
  assert.throws(() => r.single("dstm_leases", "gauge", "x", () => 0), TypeError);
});
