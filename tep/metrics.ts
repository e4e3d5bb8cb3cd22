/**
 * The TEP's Prometheus metrics (`--metrics ADDR:PORT`, off by default): the shared data-plane
 * counters and the TSP session's, read when scraped, served at `/metrics` with `node:http`.
 *
 * @module
 */
import http from "node:http";
import { MetricsRegistry } from "../lib/metrics/registry.ts";
import type { Endpoint } from "../lib/config/addresses.ts";
import type { TepStats } from "./stats_layout.ts";
import type { TspLink } from "./tsp_link.ts";

/** Build the registry over the live counters. */
export function tepMetrics(stats: TepStats, link: TspLink): MetricsRegistry {
  const r = new MetricsRegistry();
  r.register({
    name: "dstm_tep_drops_total",
    type: "counter",
    help: "Packets dropped, by reason (`dstm-tep ctl stats` explains each reason).",
    samples: () => stats.snapshot().drops.map((d) => [{ reason: d.name }, d.count]),
  });
  r.register({
    name: "dstm_tep_forwarded_packets_total",
    type: "counter",
    help: "IPv4 packets forwarded: decap (client to IPv4), encap (IPv4 to client), hairpin.",
    samples: () => {
      const f = stats.snapshot().forward;
      return [
        [{ direction: "decap" }, f.decapPackets],
        [{ direction: "encap" }, f.encapPackets],
        [{ direction: "hairpin" }, f.hairpinPackets],
      ];
    },
  });
  r.register({
    name: "dstm_tep_forwarded_bytes_total",
    type: "counter",
    help: "Bytes of the inner IPv4 packets forwarded, by direction.",
    samples: () => {
      const f = stats.snapshot().forward;
      return [
        [{ direction: "decap" }, f.decapBytes],
        [{ direction: "encap" }, f.encapBytes],
        [{ direction: "hairpin" }, f.hairpinBytes],
      ];
    },
  });
  r.single(
    "dstm_tep_bindings",
    "gauge",
    "Bindings held (pushed or answered).",
    () => stats.snapshot().bindings.size,
  );
  r.single(
    "dstm_tep_session_up",
    "gauge",
    "1 while the TSP session to the server is up.",
    () => link.state === "up" ? 1 : 0,
  );
  r.single(
    "dstm_tep_session_connects_total",
    "counter",
    "TCP connections to the server.",
    () => link.counters.connects,
  );
  r.single(
    "dstm_tep_queries_sent_total",
    "counter",
    "Queries sent to the server.",
    () => link.counters.queriesSent,
  );
  r.register({
    name: "dstm_tep_query_answers_total",
    type: "counter",
    help: "Query answers: found (200), refused (308/501), failed (anything else or no answer).",
    samples: () => [
      [{ result: "found" }, link.counters.found],
      [{ result: "refused" }, link.counters.refused],
      [{ result: "failed" }, link.counters.failed],
    ],
  });
  r.register({
    name: "dstm_tep_pushes_total",
    type: "counter",
    help: "Binding pushes received from the server.",
    samples: () => [
      [{ kind: "add" }, link.counters.pushesAdd],
      [{ kind: "remove" }, link.counters.pushesRemove],
    ],
  });
  r.single(
    "dstm_tep_queued_packets",
    "gauge",
    "Packets waiting for a query answer.",
    () => stats.snapshot().scheduler.queuedPackets,
  );
  r.single(
    "dstm_tep_tun_rx_packets_total",
    "counter",
    "Packets read from the TUN.",
    () => stats.worker("rxPackets"),
  );
  r.single(
    "dstm_tep_tun_tx_packets_total",
    "counter",
    "Packets written to the TUN.",
    () => stats.worker("txPackets"),
  );
  return r;
}

/** A running metrics endpoint. */
export interface MetricsServer {
  /** The port listened on (useful with port 0). */
  readonly port: number;
  /** Stop listening. */
  close(): Promise<void>;
}

/** Serve `registry` at `http://endpoint/metrics`. */
export async function serveMetrics(
  endpoint: Endpoint,
  registry: MetricsRegistry,
): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    if (req.method === "GET" && (req.url ?? "").split("?")[0] === "/metrics") {
      const body = registry.render();
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
      res.end(body);
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("not found: try /metrics\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(endpoint.port, endpoint.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    port: (server.address() as { port: number }).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
