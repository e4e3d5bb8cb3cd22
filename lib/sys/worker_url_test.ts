import { test } from "node:test";
import assert from "node:assert/strict";
import { workerModuleUrls } from "./worker_url.ts";

test("worker url: beside the module from source; two candidates inside a compiled binary", () => {
  assert.deepEqual(workerModuleUrls("file:///repo/tep/dataplane_host.ts", "w.ts", "tep"), [
    "file:///repo/tep/w.ts",
  ]);
  assert.deepEqual(workerModuleUrls("file:///$bunfs/root/dstm-tep", "w.ts", "tep"), [
    "file:///$bunfs/root/w.ts",
    "file:///$bunfs/root/tep/w.ts",
  ]);
});
