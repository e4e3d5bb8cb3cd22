import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { here, NEEDS_ROOT, Probe, sh, uniqueNs, withNamespaces } from "./netns.ts";

const BUN = fileURLToPath(new URL("../../node_modules/.bin/bun", import.meta.url));

test(
  "sys netns: a bun --compile binary with a Worker configures a TUN and answers pings",
  { skip: NEEDS_ROOT },
  async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dstm-sys-"));
    try {
      const exe = path.join(dir, "probe");
      // The Worker file is an extra entry point, as for the real binaries.
      sh(BUN, [
        "build",
        "--compile",
        here("probe_tun.ts"),
        here("probe_tun_worker.ts"),
        "--outfile",
        exe,
      ], 60_000);
      await withNamespaces([uniqueNs("cb")], async (ns) => {
        const cfg = {
          name: "dtun0",
          addresses: [
            { address: "10.200.0.1", prefixLength: 24 },
            { address: "2001:db8:200::1", prefixLength: 64, noDad: true },
          ],
        };
        const probe = new Probe(ns, [exe, JSON.stringify(cfg)]);
        const ready = await probe.next<{ runtime: string }>("ready");
        assert.equal(ready.runtime, "bun");
        for (const target of [["10.200.0.2"], ["-6", "2001:db8:200::2"]]) {
          sh("ip", [
            "netns",
            "exec",
            ns,
            "ping",
            "-n",
            "-c",
            "2",
            "-i",
            "0.2",
            "-W",
            "2",
            ...target,
          ]);
        }
        probe.send("stop");
        const done = await probe.next<{ answered: number }>("done");
        assert.equal(done.answered, 4);
        assert.equal(await probe.finish(), 0);
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
);
