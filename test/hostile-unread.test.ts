/**
 * Issue 10, attack 2: an admitted peer (a plain js-libp2p client, test/hostile/raw-client.ts: no Pulsing code)
 * sends 200,000 calls to an actor that does not exist and never reads an answer. The target is a Pulsing node in
 * another process; a well-behaved member (a third process) calls it every 50 ms throughout. Asserts that every one
 * of those calls succeeds, that the member never sees the target suspected or dead, and that the target's RSS grows
 * by at most MEMORY_BOUND_MB: unsent answers must count against the peer (backpressure, then a reset).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { describeReport, PASSPHRASE, rssOf, servedThroughout, sleep, underAttack } from "./hostile/harness.js";
import { admit, dialRaw, frame, Kind, leave, Mode, RawRpc, rawNode } from "./hostile/raw-client.js";

/** How much the target's resident memory may grow during the attack (peak over the level just before it). */
const MEMORY_BOUND_MB = 100;
/** Attack 2: calls sent without reading a single answer, and how long the attacker keeps sending. */
const UNREAD_CALLS = 200_000;
const UNREAD_SEND_MS = 10_000;
const UNREAD_HOLD_MS = 8_000;
const UNREAD_SETTLED_MS = 1_500;
/** A local id no actor has. */
const NO_SUCH_ACTOR = 999_999;

describe("hostile peers: an admitted caller that never reads its answers (issue 10)", () => {
  it("attack 2: 200,000 calls whose answers are never read do not grow the node's memory without bound", async (t) => {
    const outcome = await underAttack({ passphrase: PASSPHRASE, tailMs: 2_000 }, async (target) => {
      const node = await rawNode();
      try {
        const connection = await dialRaw(node, target.tcp);
        await admit(node.peerId, connection, PASSPHRASE);
        const rpc = await RawRpc.open(connection, { read: false });
        const started = performance.now();
        let sent = 0;
        let stalled = false;
        const batch = 1_000;
        while (sent < UNREAD_CALLS && performance.now() - started < UNREAD_SEND_MS) {
          const frames: Uint8Array[] = [];
          for (let i = 0; i < batch; i++) frames.push(frame([Kind.Call, sent + i + 1, NO_SUCH_ACTOR, "incr", [], Mode.ask, 0, 32]));
          // The node stops reading a peer that does not read its answers: a write then waits, and that is the end.
          if (!(await rpc.write(Buffer.concat(frames), 2_000))) {
            stalled = !rpc.closed;
            break;
          }
          sent += batch;
          await new Promise((resolve) => setImmediate(resolve));
        }
        const sendMs = Math.round(performance.now() - started);
        // Hold the stream, unread, while the node works through what it took (seconds, today) and the caller goes on:
        // until its memory has not grown for UNREAD_SETTLED_MS, at most UNREAD_HOLD_MS.
        const holding = performance.now();
        let peak = (await rssOf(target.pid)) ?? 0;
        let peakAt = holding;
        while (performance.now() - holding < UNREAD_HOLD_MS && performance.now() - peakAt < UNREAD_SETTLED_MS) {
          await sleep(250);
          const rss = (await rssOf(target.pid)) ?? 0;
          if (rss > peak + 1024 * 1024) [peak, peakAt] = [rss, performance.now()];
        }
        const holdMs = Math.round(performance.now() - holding);
        const result = { sent, bytesOut: rpc.bytesOut, sendMs, holdMs, stalled, reset: rpc.closed, closeError: rpc.closeError, leaveMs: 0 };
        const leaving = performance.now();
        rpc.abort();
        await leave(connection);
        result.leaveMs = Math.round(performance.now() - leaving);
        return result;
      } finally {
        await node.stop();
      }
    });
    const { result, report, memory, heap, timings } = outcome;
    const summary =
      `phases ${JSON.stringify(timings)}; caller: ${describeReport(report)}. Target: ${memory.describe()}; ${heap}. Attacker: ${result.sent} calls ` +
      `(${(result.bytesOut / 1024 / 1024).toFixed(1)} MB) taken in ${result.sendMs} ms, ` +
      `then ${result.stalled ? "the node stopped reading" : "no backpressure"}; held ${result.holdMs} ms, ` +
      `stream ${result.reset ? `reset by the node (${result.closeError ?? "no reason"})` : "still open"}; leaving took ${result.leaveMs} ms`;
    t.diagnostic(summary);
    const problems = servedThroughout(outcome, MEMORY_BOUND_MB);
    assert.equal(problems.length, 0, `${problems.join("; ")}\n${summary}`);
  });
});
