/**
 * Counters and gauges with help text, rendered in the Prometheus text exposition format
 * (version 0.0.4). Values are read through callbacks, so the data planes keep their own counters
 * (e.g. in a SharedArrayBuffer) and the registry only reads them when scraped.
 */

/** One metric family. */
export interface MetricFamily {
  /** Metric name, e.g. `dstm_tep_drops_total`. */
  name: string;
  /** `counter` or `gauge`. */
  type: "counter" | "gauge";
  /** One-line explanation. */
  help: string;
  /** Current samples: label set → value. */
  samples: () => Iterable<[Record<string, string>, number]>;
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

/** A set of metric families. */
export class MetricsRegistry {
  #families: MetricFamily[] = [];

  /** Add a family. Names must be unique. */
  register(f: MetricFamily): void {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(f.name)) {
      throw new TypeError(`bad metric name ${f.name}`);
    }
    if (this.#families.some((x) => x.name === f.name)) {
      throw new TypeError(`metric ${f.name} registered twice`);
    }
    this.#families.push(f);
  }

  /** A family with one unlabelled sample read from `read`. */
  single(name: string, type: "counter" | "gauge", help: string, read: () => number): void {
    this.register({ name, type, help, samples: () => [[{}, read()]] });
  }

  /** Render every family in the Prometheus text format. */
  render(): string {
    let out = "";
    for (const f of this.#families) {
      out += `# HELP ${f.name} ${f.help.replace(/\n/g, " ")}\n# TYPE ${f.name} ${f.type}\n`;
      for (const [labels, value] of f.samples()) {
        const l = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",");
        out += `${f.name}${l ? `{${l}}` : ""} ${Number.isFinite(value) ? value : "NaN"}\n`;
      }
    }
    return out;
  }
}
