import { test } from "node:test";
import assert from "node:assert/strict";
import { trimXmlSpace } from "./_text.ts";

test("addr: trimXmlSpace removes only space, tab, CR and LF at both ends", () => {
  assert.equal(trimXmlSpace(" \t\r\n192.0.2.1\n  "), "192.0.2.1");
  assert.equal(trimXmlSpace("a b"), "a b");
  assert.equal(trimXmlSpace(" \n\t "), "");
  assert.equal(trimXmlSpace(""), "");
  assert.equal(trimXmlSpace("\u00a01.2.3.4"), "\u00a01.2.3.4");
  assert.equal(trimXmlSpace("1.2.3.4\f"), "1.2.3.4\f");
});
