/**
 * Issue 10, floods of outsiders (plain js-libp2p peers without the cluster secret, test/hostile/raw-client.ts, each
 * its own peer id) against a Pulsing node with a passphrase in another process, while a well-behaved member with the
 * secret (a third process) calls the node every 50 ms. Both tests assert: every one of its calls succeeds, it never
 * sees the node suspected or dead, the node's RSS grows by at most MEMORY_BOUND_MB.
 * - Attack 4: outsiders ask the node's circuit relay (every listening Node node runs one, for browser tabs) for
 *   reservations, and 256 of them hang up: no outsider gets one, reservations of peers that left are freed, and a
 *   peer with the secret (doing what a browser tab does: admission, then a reservation) still gets one.
 * - Attack 5, in total: 100 outsiders connect and sit on their connections: the node holds at most
 *   UNADMITTED_TOTAL_MAX unadmitted connections at once, and a peer with the secret still gets in.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { describeReport, PASSPHRASE, sampleHeld, servedThroughout, sleep, underAttack } from "./hostile/harness.js";
import { admit, dialRaw, leave, pool, rawNode, rawNodes, RelayStatus, reserve, type RawNode, type ReserveOutcome } from "./hostile/raw-client.js";

/** How much the target's resident memory may grow during the attack (peak over the level just before it). */
const MEMORY_BOUND_MB = 100;
/** Outsiders that each take a reservation and hang up (the node's relay keeps 256). */
const RELAY_OUTSIDERS = 256;
/**
 * Outsiders at a time (libp2p resets inbound connections past 10 still upgrading; a reset dial is tried again, up to
 * 3 times), and how long the flood may take: outsiders not started by then are skipped (a node that refuses them
 * slowly must not stretch the test).
 */
const RELAY_FLOOD_CONCURRENCY = 8;
const RELAY_FLOOD_MS = 20_000;
/** How soon the reservations of peers that left must be gone. */
const RESERVATIONS_FREED_MS = 3_000;
/**
 * Attack 5, many outsiders: unadmitted connections the node may hold at once in all (a test-side expectation; the
 * issue asks for a cap, not for this number), how many outsiders try, and how many dial at a time (libp2p resets
 * inbound connections past 10 still upgrading). Only connections made within OUTSIDER_CUTOFF_MS can be held at
 * once: a machine too busy to make more than the cap in that time does not put the cap to the test (the summary
 * says so).
 */
const UNADMITTED_TOTAL_MAX = 64;
const PARKED_OUTSIDERS = 100;
const DIAL_CONCURRENCY = 8;
const OUTSIDER_CUTOFF_MS = 3_000;

describe("hostile peers: floods of outsiders (issue 10)", { concurrency: 1 }, () => {
  it("attack 4: outsiders get no relay reservation, and a peer with the secret still gets one after 256 outsiders left", async (t) => {
    const outcome = await underAttack({ passphrase: PASSPHRASE, tailMs: 1_000 }, async (target) => {
      // One outsider asks, as soon as it is connected.
      const lone = await rawNode();
      let loneOutcome: ReserveOutcome;
      try {
        const connection = await dialRaw(lone, target.tcp);
        loneOutcome = await reserve(connection);
        await leave(connection);
      } finally {
        await lone.stop();
      }
      // Then 256, RELAY_FLOOD_CONCURRENCY at a time, each hanging up (abruptly) right after its answer.
      const nodes = await rawNodes(RELAY_OUTSIDERS);
      const outsiders = new Set(nodes.map((n) => n.peerId.toString()));
      const started = performance.now();
      let skipped = 0;
      const outcomes = await pool(nodes, RELAY_FLOOD_CONCURRENCY, async (node): Promise<ReserveOutcome> => {
        if (performance.now() - started > RELAY_FLOOD_MS) {
          skipped++;
          return { error: "not tried (flood time used up)", ms: 0 };
        }
        let lastError: unknown;
        for (let attempt = 0; attempt < 3; attempt++) {
          try {
            const connection = await dialRaw(node, target.tcp, 2_000);
            const outcome = await reserve(connection, 2_000);
            connection.abort(new Error("hung up"));
            return outcome;
          } catch (error) {
            lastError = error; // e.g. reset while more than 10 inbound connections were upgrading: try again
            await sleep(50);
          }
        }
        return { error: `dial: ${(lastError as Error).message}`, ms: 0 };
      });
      const floodMs = Math.round(performance.now() - started);
      await Promise.all(nodes.map((n) => n.stop()));
      const byOutcome = new Map<string, number>();
      for (const o of outcomes) {
        const key = o.status !== undefined ? `status ${o.status}` : `no answer: ${(o.error ?? "").slice(0, 60)}`;
        byOutcome.set(key, (byOutcome.get(key) ?? 0) + 1);
      }
      // What the node's relay still holds for outsiders, once they have left.
      let heldByOutsiders = -1;
      let tableSize = -1;
      const deadline = Date.now() + RESERVATIONS_FREED_MS;
      for (;;) {
        const answer = await target.ask({ reservations: true }, 2_000).catch(() => undefined);
        const table = (answer?.reservations as string[] | null | undefined) ?? undefined;
        if (table !== undefined) {
          tableSize = table.length;
          heldByOutsiders = table.filter((peer) => outsiders.has(peer)).length;
        }
        if (heldByOutsiders === 0 || Date.now() > deadline) break;
        await sleep(200);
      }
      // A peer with the secret (what a browser tab does: admission, then a reservation on the seed's relay).
      const member = await rawNode();
      let memberOutcome: ReserveOutcome;
      let memberInTable = false;
      try {
        const connection = await dialRaw(member, target.tcp);
        await admit(member.peerId, connection, PASSPHRASE);
        memberOutcome = await reserve(connection);
        const answer = await target.ask({ reservations: true }, 2_000).catch(() => undefined);
        memberInTable = ((answer?.reservations as string[] | undefined) ?? []).includes(member.peerId.toString());
        await leave(connection);
      } finally {
        await member.stop();
      }
      // Once it has left, its reservation is freed (libp2p would keep it for hours).
      let memberFreedMs: number | undefined;
      const leftAt = performance.now();
      while (memberFreedMs === undefined && performance.now() - leftAt < RESERVATIONS_FREED_MS) {
        const answer = await target.ask({ reservations: true }, 2_000).catch(() => undefined);
        const table = answer?.reservations as string[] | undefined;
        if (table !== undefined && !table.includes(member.peerId.toString())) memberFreedMs = Math.round(performance.now() - leftAt);
        else await sleep(100);
      }
      return {
        lone: loneOutcome,
        floodMs,
        outsiderOutcomes: Object.fromEntries(byOutcome),
        outsidersReserved: outcomes.filter((o) => o.status === RelayStatus.OK).length,
        skipped,
        heldByOutsiders,
        tableSize,
        member: memberOutcome,
        memberInTable,
        memberFreedMs,
      };
    });
    const { result, report, memory, timings } = outcome;
    const problems = servedThroughout(outcome, MEMORY_BOUND_MB);
    if (result.lone.status === RelayStatus.OK) problems.push("a lone outsider got a relay reservation");
    if (result.outsidersReserved > 0) problems.push(`${result.outsidersReserved} of ${RELAY_OUTSIDERS} outsiders got a relay reservation`);
    if (result.heldByOutsiders !== 0) {
      problems.push(`${result.heldByOutsiders} reservations of outsiders that left were still held ${RESERVATIONS_FREED_MS} ms later (table: ${result.tableSize})`);
    }
    if (result.member.status !== RelayStatus.OK) {
      problems.push(`the peer with the secret was refused a reservation (${result.member.status ?? result.member.error})`);
    }
    if (!result.memberInTable) problems.push("the peer with the secret was not in the reservation table");
    if (result.memberFreedMs === undefined) problems.push(`the reservation of the peer with the secret was still held ${RESERVATIONS_FREED_MS} ms after it left`);
    const summary = `phases ${JSON.stringify(timings)}; caller: ${describeReport(report)}. Target: ${memory.describe()}. Relay: ${JSON.stringify(result)}`;
    t.diagnostic(summary);
    assert.equal(problems.length, 0, `${problems.join("; ")}\n${summary}`);
  });

  it("attack 5: the node caps unadmitted connections in total, and a peer with the secret still gets in", async (t) => {
    const outcome = await underAttack({ passphrase: PASSPHRASE, tailMs: 1_000 }, async (target) => {
      const nodes = await rawNodes(PARKED_OUTSIDERS);
      const held = sampleHeld(target, new Set(nodes.map((n) => n.peerId.toString())), 100);
      let member: RawNode | undefined;
      try {
        const started = performance.now();
        let connectedEarly = 0; // within OUTSIDER_CUTOFF_MS of the start: only those can be held at once
        const dials = await pool(nodes, DIAL_CONCURRENCY, (node) =>
          dialRaw(node, target.tcp).then(
            () => {
              if (performance.now() - started <= OUTSIDER_CUTOFF_MS) connectedEarly++;
              return true;
            },
            () => false,
          ),
        );
        const dialMs = Math.round(performance.now() - started);
        const connected = dials.filter(Boolean).length;
        await sleep(500);
        // A newcomer with the secret, while the outsiders sit on their connections: in within a few seconds.
        member = await rawNode();
        const joinStarted = performance.now();
        let joined: string | undefined;
        let attempts = 0;
        while (joined === undefined && performance.now() - joinStarted < 6_000) {
          attempts++;
          try {
            const connection = await dialRaw(member, target.tcp, 2_000);
            await admit(member.peerId, connection, PASSPHRASE, { timeoutMs: 3_000 });
            joined = `${Math.round(performance.now() - joinStarted)} ms`;
          } catch {
            await sleep(250);
          }
        }
        const seen = await held.stop();
        return {
          connected,
          connectedEarly,
          dialMs,
          dialsRefused: PARKED_OUTSIDERS - connected,
          heldByNode: seen,
          memberJoined: joined,
          memberAttempts: attempts,
        };
      } finally {
        await held.stop();
        await member?.stop();
        await Promise.all(nodes.map((n) => n.stop()));
      }
    });
    const { result, report, memory, timings } = outcome;
    const problems = servedThroughout(outcome, MEMORY_BOUND_MB);
    if (result.heldByNode.total > UNADMITTED_TOTAL_MAX) {
      problems.push(`the node held ${result.heldByNode.total} unadmitted connections of ${PARKED_OUTSIDERS} outsiders at once (bound ${UNADMITTED_TOTAL_MAX})`);
    }
    if (result.heldByNode.samples === 0) problems.push("the node never answered a question about its connections during the attack");
    if (result.memberJoined === undefined) problems.push(`a peer with the secret was not admitted within 6 s (${result.memberAttempts} attempts)`);
    // On a machine too busy to connect more than the cap within the cut-off time, the cap was not put to the test.
    const exercised =
      result.connectedEarly > UNADMITTED_TOTAL_MAX
        ? ""
        : ` (only ${result.connectedEarly} outsiders connected within ${OUTSIDER_CUTOFF_MS} ms: the cap was not exercised)`;
    const summary = `phases ${JSON.stringify(timings)}; caller: ${describeReport(report)}. Target: ${memory.describe()}. Attack: ${JSON.stringify(result)}${exercised}`;
    t.diagnostic(summary);
    assert.equal(problems.length, 0, `${problems.join("; ")}\n${summary}`);
  });
});
