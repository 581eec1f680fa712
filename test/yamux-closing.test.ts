/**
 * The yamux work-around (src/transport/yamux-closing-connection.ts): a stream opened on a closing connection must
 * not kill the process. Each case runs in a child process (test/fixtures/yamux-closing.ts), since what it looks for
 * is an uncaught exception.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const root = fileURLToPath(new URL("..", import.meta.url));

async function openOnClosing(workAround: boolean, scenario: "closing" | "carrier" = "closing"): Promise<{ created: boolean; uncaught: string | null }> {
  const args = ["--conditions=pulsing-source", "--import", "tsx", "test/fixtures/yamux-closing.ts", workAround ? "with" : "without", scenario];
  const { stdout } = await promisify(execFile)(process.execPath, args, { cwd: root, timeout: 30_000 });
  return JSON.parse(stdout.trim().split("\n").at(-1)!) as { created: boolean; uncaught: string | null };
}

describe("a yamux stream opened while its connection closes", () => {
  it("with the work-around, nothing escapes as an uncaught exception", async () => {
    const outcome = await openOnClosing(true);
    assert.equal(outcome.uncaught, null);
  });

  it("a relayed connection whose carrier stream closed first: with the work-around, nothing escapes; without, it throws", async () => {
    assert.equal((await openOnClosing(true, "carrier")).uncaught, null);
    assert.match((await openOnClosing(false, "carrier")).uncaught ?? "", /^StreamStateError/);
  });

  it("without it, @libp2p/yamux still throws from its microtask (drop the work-around when this fails)", async () => {
    const outcome = await openOnClosing(false);
    assert.equal(outcome.created, true);
    assert.match(outcome.uncaught ?? "", /^StreamStateError/, "yamux no longer throws: check whether upstream fixed it");
  });
});
