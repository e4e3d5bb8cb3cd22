import { test } from "node:test";
import assert from "node:assert/strict";
import { KeyTable } from "./key_table.ts";
import { Prng } from "../testing/prng.ts";

test("lease key table: random inserts, replacements and deletes agree with a Map", () => {
  const rng = new Prng(3);
  const N = 3000;
  // key store: value v holds key bytes at v*16; few distinct keys so collisions and reuse happen
  const store = new Uint8Array(N * 16);
  const t = new KeyTable(16, () => store, 4);
  const ref = new Map<string, number>();
  const keyStr = (b: Uint8Array, o: number) => String.fromCharCode(...b.subarray(o, o + 16));
  const pool: Uint8Array[] = [];
  for (let k = 0; k < 500; k++) {
    const b = new Uint8Array(16);
    // many keys share a prefix, like addresses in one /64
    b.set([0x20, 1, 0x0d, 0xb8, 0, 0, 0, k % 3]);
    b[15] = k & 0xff;
    b[14] = k >> 8;
    pool.push(b);
  }
  const owner = new Int32Array(N).fill(-1); // value -> key number it holds, -1 free
  for (let step = 0; step < 40_000; step++) {
    const kn = rng.int(pool.length);
    const key = pool[kn];
    const ks = keyStr(key, 0);
    const op = rng.int(3);
    if (op === 0) {
      // insert/replace with a free value slot holding this key
      let v = rng.int(N);
      while (owner[v] !== -1) v = (v + 1) % N;
      store.set(key, v * 16);
      const prev = ref.get(ks);
      if (prev !== undefined) owner[prev] = -1;
      owner[v] = kn;
      t.set(key, 0, v);
      ref.set(ks, v);
    } else if (op === 1) {
      const had = ref.has(ks);
      assert.equal(t.delete(key, 0), had);
      if (had) {
        owner[ref.get(ks)!] = -1;
        ref.delete(ks);
      }
    } else {
      assert.equal(t.get(key, 0), ref.get(ks) ?? -1, `step ${step}`);
    }
    assert.equal(t.size, ref.size);
    if (step % 1000 === 0) {
      for (let k = 0; k < pool.length; k++) {
        assert.equal(t.get(pool[k], 0), ref.get(keyStr(pool[k], 0)) ?? -1);
      }
    }
  }
  assert.ok(t.capacity >= 2 * t.size);
  // lookups at an offset inside a larger buffer
  const big = new Uint8Array(40);
  big.set(pool[0], 7);
  assert.equal(t.get(big, 7), ref.get(keyStr(pool[0], 0)) ?? -1);
  assert.throws(() => new KeyTable(6, () => store), RangeError);
});
