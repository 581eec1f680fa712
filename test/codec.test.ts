import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import * as pul from "pulsing";
import { decode, encode } from "../src/wire/codec.js";

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ""), "hex"));

describe("wire codec", () => {
  it("round-trips the supported values", () => {
    const value = {
      n: 1,
      f: -2.5,
      s: "text ü",
      b: true,
      nil: null,
      undef: undefined,
      nan: Number.NaN,
      inf: -Infinity,
      big: 2n ** 80n,
      date: new Date(123),
      bytes: new Uint8Array([0, 255]),
      floats: new Float64Array([1.5]),
      set: new Set(["a"]),
      list: [1, [2, [3]]],
    };
    assert.deepEqual(decode(encode(value)), value);
  });

  it("keeps errors' class and fields", () => {
    const error = new pul.PulsingBusinessError("E42", "bad", { why: ["x"] });
    const back = decode(encode({ error })) as { error: pul.PulsingBusinessError };
    assert.ok(back.error instanceof pul.PulsingBusinessError, "back.error instanceof pul.PulsingBusinessError");
    assert.equal(back.error.code, "E42");
    assert.deepEqual(back.error.details, { why: ["x"] });
    // Stacks stay home unless asked for (they show a node's file paths to whoever called it).
    assert.equal(back.error.stack, "PulsingBusinessError: bad", "no stack by default");
    const withStack = decode(encode({ error }, "value", { errorStacks: true })) as { error: pul.PulsingBusinessError };
    assert.equal(withStack.error.stack, error.stack);
    const wrapped = new pul.PulsingActorError("TypeError: x", "actor-a", new TypeError("x"));
    const again = decode(encode(wrapped)) as pul.PulsingActorError;
    assert.ok(again instanceof pul.PulsingActorError, "again instanceof pul.PulsingActorError");
    assert.equal(again.actorName, "actor-a");
    assert.ok(again.cause instanceof TypeError, "again.cause instanceof TypeError");
    const coded = decode(encode(new pul.PulsingRuntimeError(pul.ErrorCode.NODE_DEAD, "gone"))) as pul.PulsingRuntimeError;
    assert.ok(coded instanceof pul.PulsingRuntimeError, "a runtime error stays one");
    assert.equal(coded.code, "NODE_DEAD", "and keeps its code");
    const plain = decode(encode(new pul.PulsingRuntimeError("no code"))) as pul.PulsingRuntimeError;
    assert.equal(plain.code, "UNSPECIFIED");
    const custom = Object.assign(new Error("odd"), { name: "MyError", code: "E_ODD" });
    const c = decode(encode(custom)) as Error & { code: string };
    assert.equal(c.name, "MyError");
    assert.equal(c.code, "E_ODD");
  });

  it("names the path of a value it cannot encode", () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ user: { onChange: () => 1 } }, /value\.user\.onChange: a function/],
      [[1, Symbol("s")], /value\[1\]: a symbol/],
      [{ p: Promise.resolve(1) }, /value\.p: a Promise/],
      [{ w: new WeakMap() }, /value\.w: a weak collection/],
    ];
    for (const [value, pattern] of cases) {
      assert.throws(() => encode(value), (e: unknown) => e instanceof pul.PulsingRuntimeError && pattern.test(e.message));
    }
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    assert.throws(() => encode(cyclic, "args[0]"), /args\[0\]\.self: a cycle/);
  });

  it("refuses __proto__ keys, record definitions and structured-clone references", () => {
    const proto = hex("81 a9 5f5f70726f746f5f5f 80"); // { "__proto__": {} }
    assert.throws(() => decode(proto), (e: unknown) => e instanceof pul.PulsingRuntimeError && /__proto__/.test(e.message));
    const record = hex("d4 72 40 91 a1 61"); // msgpackr record definition
    assert.throws(() => decode(record), /refused extension type 0x72/);
    const pointer = hex("d6 70 00000001");
    assert.throws(() => decode(pointer), /refused extension/);
    const regexp = hex("d4 78 00 92 a1 61 a0");
    assert.throws(() => decode(regexp), /refused extension/);
    assert.equal(Object.getPrototypeOf(decode(hex("81 a1 61 01"))), Object.prototype);
  });

  it("refuses truncated, trailing and absurdly nested input", () => {
    assert.throws(() => decode(hex("92 01")), /truncated/);
    assert.throws(() => decode(hex("01 02")), /trailing/);
    assert.throws(() => decode(hex("dd ffffffff 01")), /truncated/);
    const deep = new Uint8Array(1000).fill(0x91);
    assert.throws(() => decode(deep), /nesting deeper/);
    assert.throws(() => decode(new Uint8Array()), /truncated/);
  });

  it("turns any byte string into a value or a PulsingRuntimeError (fuzz)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          decode(bytes);
        } catch (error) {
          assert.ok(error instanceof pul.PulsingRuntimeError, `unexpected ${String(error)}`);
        }
      }),
      { numRuns: 5_000 },
    );
  });

  it("turns mutated valid encodings into values or PulsingRuntimeErrors (fuzz)", () => {
    fc.assert(
      fc.property(fc.anything({ withBigInt: true, withDate: true, withTypedArray: true, withSet: true }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), (value, mutations) => {
        let bytes: Uint8Array;
        try {
          bytes = encode(value);
        } catch (error) {
          assert.ok(error instanceof pul.PulsingRuntimeError, "error instanceof pul.PulsingRuntimeError");
          return;
        }
        const mutated = bytes.slice();
        for (const [at, byte] of mutations) if (mutated.length > 0) mutated[at % mutated.length] = byte;
        try {
          decode(mutated);
        } catch (error) {
          assert.ok(error instanceof pul.PulsingRuntimeError, `unexpected ${String(error)}`);
        }
      }),
      { numRuns: 3_000 },
    );
  });
});
