/**
 * The real gossip membership (src/cluster/gossip-membership.ts) at 10 and 200 members on a simulated clock over
 * a simulated network (test/sim: latencies, a gossipsub traffic model, kills, freezes, partitions; no libp2p, no
 * sleeps). Each size is one cluster that goes through the scenarios in order: converge, a quiet minute, an
 * arrival, a kill, a freeze, a partition. Sim time is deterministic (seeded); the figures are printed.
 *
 *   node scripts/test.mjs test/membership-sim.test.ts
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { GossipMembership } from "../src/cluster/gossip-membership.js";
import { SimNetwork, type SimMembershipClass } from "./sim/sim-network.js";
import {
  buildCluster,
  fmtBytes,
  measureArrival,
  measureDetection,
  measureReconvergence,
  measureSteady,
  type SteadyFigures,
} from "./sim/scenarios.js";

const Membership = GossipMembership as unknown as SimMembershipClass;

/** The bound: a killed or frozen member is dead in every view within 3 s. */
const DETECTION_BOUND_MS = 3_000;
/**
 * A new member in 99.9 % of views. Measured: ~0.1 s at 10 and ~0.14 s at 200 members (the seed's table pull,
 * a 20 ms batch, then ⌈log3 n⌉ gossipsub hops of 5–20 ms); the bound leaves room for a slower batch or an extra
 * hop, not for a round of anti-entropy (seconds).
 */
const ARRIVAL_BOUND_MS = 500;
/** A partitioned member is cut off this long (under the network's 10 s link timeout: its connections survive). */
const PARTITION_MS = 5_000;
/** After a heal or a thaw, every view is complete again within this (measured: ~0.1–0.5 s). */
const REJOIN_BOUND_MS = 5_000;
const QUIET_SECONDS = 60;

const steady = new Map<number, SteadyFigures>();

for (const size of [10, 200]) {
  describe(`membership simulation: ${size} members`, () => {
    const net = new SimNetwork({ seed: size, Membership });
    after(() => net.dispose());

    it("views converge", async (t) => {
      const { convergedAt, wallMs, converged } = await buildCluster(net, size, { maxConvergeMs: 60_000 });
      t.diagnostic(`${size} members: every view complete at ${(convergedAt / 1000).toFixed(2)} s of sim time (joins in waves of ${Math.max(10, Math.ceil(size / 50))} every 250 ms; ${wallMs.toFixed(0)} ms of wall time)`);
      assert.ok(converged, `views did not converge within 60 s of sim time (${net.liveNodes().filter((n) => n.aliveCount < size - 1).length} incomplete)`);
      for (const node of net.liveNodes()) {
        const members = node.membership.members();
        assert.equal(members.length, size, `${node.index}'s members()`);
        assert.ok(
          members.every((m) => m.status === "alive"),
          `${node.index} sees ${members.filter((m) => m.status !== "alive").length} members not alive`,
        );
      }
    });

    it(`a quiet minute: no suspicion, and the per-node traffic`, async (t) => {
      await net.clock.runFor(5_000); // the joins' last batches and pulls
      const figures = await measureSteady(net, QUIET_SECONDS);
      steady.set(size, figures);
      const k = figures.byKind;
      t.diagnostic(
        `${size} members, ${QUIET_SECONDS} s: ${figures.msgsPerSec.toFixed(1)} msg/s and ${fmtBytes(figures.bytesPerSec)} per node (in + out; ` +
          `topic ${fmtBytes(k.topic.bytesPerSec)}, rpc ${fmtBytes(k.rpc.bytesPerSec)}, ping ${fmtBytes(k.ping.bytesPerSec)}), ` +
          `median node ${fmtBytes(figures.medianBytesPerSec)}, busiest ${fmtBytes(figures.maxBytesPerSec)}; ` +
          `${figures.antiEntropyRounds} anti-entropy rounds (${figures.antiEntropyRepairs} repairs); ${figures.suspicions} suspicions`,
      );
      assert.equal(figures.suspicions, 0, `suspicions with no failure: ${figures.suspicions}`);
      assert.equal(figures.deaths, 0, `deaths with no failure: ${figures.deaths}`);
      assert.ok(figures.msgsPerSec > 0, "no traffic at all: the failure detector is not probing");
    });

    it(`a new member reaches 99.9 % of the members within ${ARRIVAL_BOUND_MS} ms`, async (t) => {
      const arrival = await measureArrival(net);
      t.diagnostic(
        `${arrival.members} members: newcomer in ${arrival.reached} views; 50 % at ${arrival.p50.toFixed(0)} ms, 99.9 % at ${arrival.p999.toFixed(0)} ms, ` +
          `all at ${arrival.max.toFixed(0)} ms; its own view complete at ${arrival.ownViewMs.toFixed(0)} ms`,
      );
      assert.ok(arrival.p999 <= ARRIVAL_BOUND_MS, `99.9 % of the members saw the newcomer after ${arrival.p999} ms`);
      assert.ok(arrival.ownViewMs <= ARRIVAL_BOUND_MS, `the newcomer's own view took ${arrival.ownViewMs} ms`);
    });

    it(`a killed member is dead in every view within ${DETECTION_BOUND_MS} ms`, async (t) => {
      await net.clock.runFor(2_000);
      const d = await measureDetection(net, "kill");
      t.diagnostic(`killed: first suspicion at ${d.firstSuspicionMs.toFixed(0)} ms, first death ${d.firstDeathMs.toFixed(0)} ms, dead in all ${d.observers} views at ${d.allDeadMs.toFixed(0)} ms`);
      assert.ok(d.detected && d.allDeadMs <= DETECTION_BOUND_MS, `a killed member was dead everywhere after ${d.allDeadMs} ms`);
    });

    it(`a frozen member is dead in every view within ${DETECTION_BOUND_MS} ms, and back when it thaws`, async (t) => {
      await net.clock.runFor(2_000);
      const d = await measureDetection(net, "freeze");
      t.diagnostic(`frozen: first suspicion at ${d.firstSuspicionMs.toFixed(0)} ms, first death ${d.firstDeathMs.toFixed(0)} ms, dead in all ${d.observers} views at ${d.allDeadMs.toFixed(0)} ms`);
      assert.ok(d.detected && d.allDeadMs <= DETECTION_BOUND_MS, `a frozen member was dead everywhere after ${d.allDeadMs} ms`);
      await net.clock.runFor(1_000);
      net.thaw(d.victim);
      const back = await measureReconvergence(net, REJOIN_BOUND_MS);
      t.diagnostic(`thawed ${(d.allDeadMs + 1_000).toFixed(0)} ms after the freeze: views complete again ${back.toFixed(0)} ms after the thaw`);
      assert.ok(back <= REJOIN_BOUND_MS, "the thawed member is not back in every view (nor every member in its view)");
    });

    // (Before indirect probes were hedged and joins stopped dialing from half-filled tables, the seed and the
    // oldest members carried O(n) probes: 120 KiB/s at 1,000 members.)
    it(
      "no member pays for the whole cluster: the busiest node's traffic within 4× the median",
      (t) => {
        const figures = steady.get(size);
        assert.ok(figures !== undefined, "the quiet minute must have run");
        t.diagnostic(`busiest ${fmtBytes(figures.maxBytesPerSec)}, median ${fmtBytes(figures.medianBytesPerSec)}`);
        assert.ok(figures.maxBytesPerSec <= 4 * figures.medianBytesPerSec, `the busiest node carries ×${(figures.maxBytesPerSec / figures.medianBytesPerSec).toFixed(1)} the median`);
      },
    );

    it(`a partitioned member is dead in every view within ${DETECTION_BOUND_MS} ms, and back after the heal`, async (t) => {
      await net.clock.runFor(2_000);
      const d = await measureDetection(net, "partition");
      t.diagnostic(`partitioned: first suspicion at ${d.firstSuspicionMs.toFixed(0)} ms, dead in all ${d.observers} views at ${d.allDeadMs.toFixed(0)} ms`);
      assert.ok(d.detected && d.allDeadMs <= DETECTION_BOUND_MS, `a partitioned member was dead everywhere after ${d.allDeadMs} ms`);
      await net.clock.runFor(PARTITION_MS - d.allDeadMs);
      net.heal();
      const back = await measureReconvergence(net, REJOIN_BOUND_MS);
      t.diagnostic(`healed after ${PARTITION_MS} ms apart: views complete again ${back.toFixed(0)} ms after the heal`);
      assert.ok(back <= REJOIN_BOUND_MS, "the partitioned member is not back in every view (nor every member in its view)");
    });
  });
}

/** Long partitions and returns (each was broken once: see the comments). */
describe("membership simulation: partitions longer than a connection lives, and members that come back", () => {
  // Once its connections timed out, the cut-off member held every other dead and nobody pulled tables with it;
  // then a pulled table's `dead` entries and `dead` announcements spread its stale verdicts.
  it(
    "a member cut off for longer than the link timeout is back after the heal, and no live member is declared dead on the way",
    async (t) => {
      const net = new SimNetwork({ seed: 1010, Membership });
      try {
        assert.ok((await buildCluster(net, 10)).converged, "10 members did not converge");
        await net.clock.runFor(5_000);
        const d = await measureDetection(net, "partition");
        assert.ok(d.detected, "the partitioned member was not declared dead");
        await net.clock.runFor(40_000); // > the 10 s link timeout: its connections are gone
        const live = new Set(net.liveNodes().filter((n) => n !== d.victim).map((n) => n.id));
        const healedAt = net.clock.now();
        net.heal();
        const back = await measureReconvergence(net, 60_000);
        const deaths = net.events.filter((e) => e.t >= healedAt && e.type === "member:down" && live.has(e.subject));
        t.diagnostic(`views complete ${back} ms after the heal; ${deaths.length} deaths of live members meanwhile`);
        assert.ok(back <= 10_000, `not back within 10 s of the heal (${back} ms)`);
        assert.equal(deaths.length, 0, `live members declared dead after the heal: ${deaths.length}`);
      } finally {
        net.dispose();
      }
    },
  );

  // Every member that heard from a member it held dead announced `dead`: n messages, n² deliveries.
  it(
    "a member back after being declared dead is told so by a few members, not by every one",
    async (t) => {
      const net = new SimNetwork({ seed: 1050, Membership });
      try {
        assert.ok((await buildCluster(net, 50)).converged, "50 members did not converge");
        await net.clock.runFor(5_000);
        const d = await measureDetection(net, "freeze");
        assert.ok(d.detected, "the frozen member was not declared dead");
        await net.clock.runFor(1_000);
        const published = (): number => net.nodes.reduce((sum, n) => sum + n.membership.counters.messagesOut, 0);
        const before = published();
        net.thaw(d.victim);
        const back = await measureReconvergence(net, REJOIN_BOUND_MS);
        await net.clock.runFor(2_000);
        t.diagnostic(`back in every view after ${back} ms; ${published() - before} topic messages published meanwhile`);
        assert.ok(published() - before <= 10, `${published() - before} topic messages for one member's return`);
      } finally {
        net.dispose();
      }
    },
  );
});

it("steady-state traffic per node at 200 members is within 2× of 10 members", (t) => {
  const small = steady.get(10);
  const large = steady.get(200);
  assert.ok(small !== undefined && large !== undefined, "both quiet minutes must have run");
  const bytes = large.bytesPerSec / small.bytesPerSec;
  const msgs = large.msgsPerSec / small.msgsPerSec;
  t.diagnostic(
    `per node, 200 vs 10 members: ${fmtBytes(large.bytesPerSec)} vs ${fmtBytes(small.bytesPerSec)} (×${bytes.toFixed(2)}), ` +
      `${large.msgsPerSec.toFixed(1)} vs ${small.msgsPerSec.toFixed(1)} msg/s (×${msgs.toFixed(2)}); busiest node ${fmtBytes(large.maxBytesPerSec)} vs ${fmtBytes(small.maxBytesPerSec)}`,
  );
  for (const [what, ratio] of [
    ["bytes/s", bytes],
    ["messages/s", msgs],
  ] as const) {
    assert.ok(ratio <= 2 && ratio >= 0.5, `${what} per node at 200 members is ×${ratio.toFixed(2)} that at 10`);
  }
});
