import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { DropCounters } from "../lib/tep/drop_reasons.ts";
import { serveMetrics, tepMetrics } from "./metrics.ts";
import { TepStats } from "./stats_layout.ts";
import { TspLink } from "./tsp_link.ts";

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get({ host: "127.0.0.1", port, path }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    }).on("error", reject);
  });
}

test("tep metrics: drops by reason, session and query counters at /metrics", async () => {
  const stats = new TepStats(new ArrayBuffer(TepStats.BYTES));
  new DropCounters(stats.buffer, 0).count("spoofed-source", 4);
  const link = new TspLink(
    { host: "::1", port: 9, user: "tep1", password: "x", tep: {} },
    { up() {}, down() {}, push() {}, answer() {}, protocolError() {} },
  );
  link.counters.queriesSent = 12;
  const registry = tepMetrics(stats, link);
  const server = await serveMetrics({ host: "127.0.0.1", family: 4, port: 0 }, registry);
  try {
    const text = registry.render();
    assert.match(text, /^dstm_tep_drops_total\{reason="spoofed-source"\} 4$/m);
    assert.match(text, /^dstm_tep_drops_total\{reason="server-unavailable"\} 0$/m);
    assert.match(text, /^dstm_tep_session_up 0$/m);
    assert.match(text, /^dstm_tep_queries_sent_total 12$/m);
    assert.match(text, /^# TYPE dstm_tep_bindings gauge$/m);
    const r = await get(server.port, "/metrics");
    assert.equal(r.status, 200);
    assert.match(r.body, /dstm_tep_drops_total\{reason="spoofed-source"\} 4/);
    assert.equal((await get(server.port, "/")).status, 404);
  } finally {
    await server.close();
  }
});
