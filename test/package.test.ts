import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

describe("the package", () => {
  it("builds dist/ and works through its exports (self-reference, no source condition)", () => {
    execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json"], { cwd: root, stdio: "pipe" });
    const program = `
      import * as pul from "pulsing";
      const Counter = pul.remote(class Counter { v = 0; incr() { return ++this.v; } });
      await pul.init();
      const c = await Counter.spawn({ name: "c" });
      await c.incr();
      console.log(JSON.stringify({ value: await c.incr(), runtime: pul.getSystem().runtime }));
      await pul.shutdown();
    `;
    const out = execFileSync(process.execPath, ["--input-type=module", "-e", program], { cwd: root, encoding: "utf8" });
    assert.deepEqual(JSON.parse(out.trim()), { value: 2, runtime: "node" });
  });
});
