import assert from "node:assert/strict";
import { test } from "node:test";
import { Prng } from "../../testing/prng.ts";
import { parseDirectives, quote } from "./_directives.ts";

function parsed(text: string, repeatable?: Set<string>): Record<string, readonly string[]> {
  const r = parseDirectives(text, repeatable);
  assert.ok(r.ok, `${text}: ${JSON.stringify(r)}`);
  return Object.fromEntries(r.values);
}

test("sasl directives: gogoc-style list with tokens and quoted strings", () => {
  assert.deepEqual(
    parsed('realm="dstm.example",nonce="1795679425",qop="auth",algorithm=md5-sess,charset=utf-8'),
    {
      realm: ["dstm.example"],
      nonce: ["1795679425"],
      qop: ["auth"],
      algorithm: ["md5-sess"],
      charset: ["utf-8"],
    },
  );
});

test("sasl directives: blanks around commas and equals, empty elements, name case", () => {
  assert.deepEqual(
    parsed(' , Realm = "a b" ,, \tNC\t=\t00000001 ,\r\n qop=auth , '),
    { realm: ["a b"], nc: ["00000001"], qop: ["auth"] },
  );
  assert.deepEqual(parsed(""), {});
  assert.deepEqual(parsed(" , ,"), {});
});

test("sasl directives: quoted-pair escapes are removed, quote() adds them back", () => {
  const v = parsed('username="a\\"b\\\\c\\d",x=""');
  assert.deepEqual(v, { username: ['a"b\\cd'], x: [""] });
  assert.equal(quote('a"b\\c'), '"a\\"b\\\\c"');
  assert.deepEqual(parsed(`u=${quote('q"\\"')}`), { u: ['q"\\"'] });
});

test("sasl directives: duplicates refused unless repeatable", () => {
  assert.deepEqual(parseDirectives("a=1,b=2,A=3"), {
    ok: false,
    reason: "duplicate-directive",
    name: "a",
  });
  assert.deepEqual(parsed('realm="x",realm="y"', new Set(["realm"])), { realm: ["x", "y"] });
});

test("sasl directives: syntax errors give reasons", () => {
  const cases: [string, string][] = [
    ["=x", "bad-name"],
    ["a", "missing-equals"],
    ["a b=1", "missing-equals"],
    ["a=", "bad-value"],
    ["a=,b=1", "bad-value"],
    ['a="x', "unterminated-quote"],
    ['a="x\\', "unterminated-quote"],
    ['a="x"y', "missing-comma"],
    ["a=x y", "missing-comma"],
    ['a="x\x01"', "control-char"],
    ["a=1,\x00", "control-char"],
    ["a=\x80", "bad-value"],
  ];
  for (const [text, reason] of cases) {
    const r = parseDirectives(text);
    assert.equal(r.ok, false, text);
    if (!r.ok) assert.equal(r.reason, reason, JSON.stringify(text));
  }
  const many = Array.from({ length: 65 }, (_, i) => `d${i}=1`).join(",");
  assert.deepEqual(parseDirectives(many), { ok: false, reason: "too-many-directives" });
});

test("sasl directives: octets above 0x7f pass through quoted strings unchanged", () => {
  assert.deepEqual(parsed('u="\xc3\xa9t\xe9"'), { u: ["\xc3\xa9t\xe9"] });
});

test("sasl directives: random text never throws", () => {
  const prng = new Prng(4242);
  const alphabet = 'ab=,"\\ \t\r\n\x00\x7f\xff';
  for (let i = 0; i < 30000; i++) {
    let s = "";
    const n = prng.int(30);
    for (let j = 0; j < n; j++) s += alphabet[prng.int(alphabet.length)];
    const r = parseDirectives(s);
    assert.equal(typeof r.ok, "boolean");
  }
});
