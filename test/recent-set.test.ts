import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RecentSet } from "../src/util/recent-set.js";

describe("RecentSet", () => {
  it("remembers the last `capacity` distinct values and forgets the oldest first", () => {
    const seen = new RecentSet<string>(3);
    assert.equal(seen.add("a"), true);
    assert.equal(seen.add("b"), true);
    assert.equal(seen.add("a"), false, "a value seen is not added again");
    assert.equal(seen.add("c"), true);
    assert.equal(seen.add("d"), true); // full: "a", the oldest, goes
    assert.deepEqual(["a", "b", "c", "d"].map((v) => seen.has(v)), [false, true, true, true]);
    assert.equal(seen.size, 3);
    for (let i = 0; i < 1_000; i++) seen.add(`v${i}`);
    assert.equal(seen.size, 3);
    assert.deepEqual(["v996", "v997", "v998", "v999"].map((v) => seen.has(v)), [false, true, true, true]);
  });
});
