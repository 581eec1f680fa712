/**
 * Browser tabs as light members, in the membership simulation (test/sim): the real GossipMembership of full nodes
 * and of tabs, the tabs following a home node's feed (src/cluster/member-feed.ts, modelled over sim streams: follow,
 * ok, forwarded messages, the tab's own changes published by its home) instead of the gossipsub topic. Two clusters,
 * 30 full nodes + 10 tabs and 200 full nodes + 50 tabs, each through: tabs joining, a quiet minute and 30 s of
 * churn (traffic per role), a tab's names, a tab killed (a closed page), a tab leaving, a tab's home killed. Then,
 * at 30 + 10: a frozen tab, a tab whose home is cut off, a tab cut off beyond the link timeout and a tab whose seeds
 * both die (the last two failed on bugs since fixed, described at each). Sim time is deterministic (seeded);
 * the figures are printed.
 *
 *   node scripts/test.mjs test/membership-sim-tabs.test.ts
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { GossipMembership } from "../src/cluster/gossip-membership.js";
import { SimNetwork, type SimMembershipClass, type SimNode } from "./sim/sim-network.js";
import {
  addTabs,
  buildCluster,
  fmtBytes,
  measureDetection,
  measureLeave,
  measureReconvergence,
  measureRoles,
  measureTabArrival,
  type RoleFigures,
} from "./sim/scenarios.js";

const Membership = GossipMembership as unknown as SimMembershipClass;

/**
 * A tab in its own view complete, and in every view, after it starts. Measured: 0.1–0.2 s (three latencies to
 * connect, a round trip for the seed's table, the seed's 20 ms batch, ⌈log3 n⌉ gossipsub hops and one feed hop).
 */
const TAB_ARRIVAL_BOUND_MS = 500;
/** The issue's bound: a killed member (a closed page) is dead in every view within 3 s. */
const DETECTION_BOUND_MS = 3_000;
/** A tab that leaves is gone from every view at once: its leave, published by its home (measured: ~0.1 s). */
const LEAVE_BOUND_MS = 500;
/** A tab whose home died follows its other seed within this (measured: ~0.1 s: the reset, then a follow round trip). */
const MOVE_BOUND_MS = 2_000;
/** A public name, in every view (measured: ~0.1 s). */
const NAMES_BOUND_MS = 1_000;
const QUIET_SECONDS = 60;
const CHURN_SECONDS = 30;

const SIZES = [
  { full: 30, tabs: 10 },
  { full: 200, tabs: 50 },
];
const quiet = new Map<number, RoleFigures>();
const churn = new Map<number, RoleFigures>();

const ms = (values: number[]): string => `median ${median(values).toFixed(0)} ms, max ${Math.max(...values).toFixed(0)} ms`;
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)]!;
const roles = (r: RoleFigures): string =>
  `tab ${fmtBytes(r.tabBytesPerSec)} (feed ${fmtBytes(r.tabByKind.feed)}, rpc ${fmtBytes(r.tabByKind.rpc)}, ping ${fmtBytes(r.tabByKind.ping)}; busiest tab ${fmtBytes(r.tabMaxBytesPerSec)}) vs ` +
  `full node ${fmtBytes(r.fullBytesPerSec)} (topic ${fmtBytes(r.fullByKind.topic)}, rpc ${fmtBytes(r.fullByKind.rpc)}, ping ${fmtBytes(r.fullByKind.ping)}; ` +
  `+ feeds served ${fmtBytes(r.fullFeedBytesPerSec)} on average); busiest full node ${fmtBytes(r.busiestFullBytesPerSec)} (node ${r.busiestFull?.index}, ` +
  `${r.busiestFull?.membership.followers} followers)`;

/** Runs until every live member's registry holds `name` of `owner`; the sim time it took (Infinity: not within `maxMs`). */
async function timeName(net: SimNetwork, owner: SimNode, name: string, maxMs = 5_000): Promise<number> {
  const t0 = net.clock.now();
  net.register(owner, name);
  const ok = await net.clock.runUntil(
    () => net.liveNodes().every((m) => m === owner || m.membership.registry.namesOf(owner.id).includes(name)),
    maxMs,
    0,
  );
  return ok ? net.clock.now() - t0 : Infinity;
}

for (const size of SIZES) {
  describe(`membership simulation with tabs: ${size.full} full nodes + ${size.tabs} tabs`, () => {
    const net = new SimNetwork({ seed: 7_000 + size.full, Membership });
    after(() => net.dispose());
    const fullNodes = (): SimNode[] => net.liveNodes().filter((n) => !n.isTab);
    const tabs = (): SimNode[] => net.liveNodes().filter((n) => n.isTab);

    it(`every tab sees every member, and every member every tab, within ${TAB_ARRIVAL_BOUND_MS} ms`, async (t) => {
      assert.ok((await buildCluster(net, size.full)).converged, `${size.full} full nodes did not converge`);
      await net.clock.runFor(2_000);
      const joined = await addTabs(net, size.tabs);
      t.diagnostic(
        `${size.tabs} tabs started at once: every view complete after ${joined.convergedMs.toFixed(0)} ms; per tab, its own view ${ms(joined.ownViewMs)}, ` +
          `in every view ${ms(joined.inEveryViewMs)}; homes: ${joined.added.filter((tab) => tab.feed!.current === net.nodes[0]!.id).length} follow the seed, the others their second seed`,
      );
      assert.ok(joined.convergedMs <= TAB_ARRIVAL_BOUND_MS, `views not complete ${TAB_ARRIVAL_BOUND_MS} ms after the tabs started (${joined.convergedMs} ms)`);
      for (const tab of joined.added) {
        assert.equal(tab.membership.members().length, net.liveNodes().length, `tab ${tab.index}'s members()`);
        assert.ok(tab.membership.members().every((m) => m.status === "alive"), `tab ${tab.index} sees members not alive`);
        // A light member: it follows one of its seeds, watches nobody, keeps no connection beyond its seeds.
        assert.ok(tab.feed!.current !== undefined && tab.membership.home === tab.feed!.current, `tab ${tab.index} has no home`);
        assert.deepEqual(tab.membership.watched(), [], `tab ${tab.index} watches members`);
        assert.ok([...tab.connections].every((peer) => tab.seeds.some((s) => s.id === peer)), `tab ${tab.index} is connected beyond its seeds`);
      }
      // One more, into the settled cluster.
      const one = await measureTabArrival(net);
      t.diagnostic(`one more tab: its own view complete at ${one.ownViewMs.toFixed(0)} ms, in all ${one.members} views at ${one.max.toFixed(0)} ms (50 % at ${one.p50.toFixed(0)} ms)`);
      assert.ok(one.ownViewMs <= TAB_ARRIVAL_BOUND_MS, `the tab's own view took ${one.ownViewMs} ms`);
      assert.ok(one.max <= TAB_ARRIVAL_BOUND_MS, `the tab was in every view after ${one.max} ms`);
    });

    it("a quiet minute: no suspicion; a tab's traffic well below a full node's", async (t) => {
      await net.clock.runFor(5_000);
      const r = await measureRoles(net, QUIET_SECONDS);
      quiet.set(size.full, r);
      t.diagnostic(`${size.full} + ${size.tabs}, quiet ${QUIET_SECONDS} s, per member in + out: ${roles(r)}; ${r.suspicions} suspicions`);
      assert.equal(r.suspicions, 0, `suspicions with no failure: ${r.suspicions}`);
      assert.equal(r.deaths, 0, `deaths with no failure: ${r.deaths}`);
      assert.ok(r.tabBytesPerSec > 0, "a tab has no traffic at all: nobody probes it");
      assert.ok(r.tabBytesPerSec <= 0.5 * r.fullBytesPerSec, `a tab's ${fmtBytes(r.tabBytesPerSec)} is not well below a full node's ${fmtBytes(r.fullBytesPerSec)}`);
    });

    it(`${CHURN_SECONDS} s of churn (a full node's name every 500 ms): a tab's traffic well below a full node's`, async (t) => {
      const full = fullNodes();
      let names = 0;
      const r = await measureRoles(net, CHURN_SECONDS, async () => {
        for (let i = 0; i < CHURN_SECONDS * 2; i++) {
          const owner = full[Math.floor(net.random() * full.length)]!;
          net.register(owner, `churn-${names++}`);
          await net.clock.runFor(500);
        }
      });
      churn.set(size.full, r);
      t.diagnostic(`${size.full} + ${size.tabs}, ${names} names in ${CHURN_SECONDS} s, per member in + out: ${roles(r)}; ${r.suspicions} suspicions`);
      assert.equal(r.suspicions, 0, `suspicions with no failure: ${r.suspicions}`);
      assert.ok(r.tabByKind.feed > 0, "the tabs' feeds carried nothing: the homes do not forward");
      assert.equal(r.tabByKind.topic, 0, "tabs got topic messages: they are not subscribed");
      assert.ok(r.tabBytesPerSec <= 0.5 * r.fullBytesPerSec, `a tab's ${fmtBytes(r.tabBytesPerSec)} is not well below a full node's ${fmtBytes(r.fullBytesPerSec)}`);
      // every tab saw every name
      const last = `churn-${names - 1}`;
      await net.clock.runFor(1_000);
      for (const tab of tabs()) assert.ok(full.some((n) => tab.membership.registry.namesOf(n.id).includes(last)), `tab ${tab.index} missed ${last}`);
    });

    it(`a tab's public names reach every member within ${NAMES_BOUND_MS} ms`, async (t) => {
      const list = tabs();
      const times: number[] = [];
      // Names of a tab following the seed and of one following its second seed.
      const bySeed = list.find((tab) => tab.feed!.current === net.nodes[0]!.id)!;
      const byOther = list.find((tab) => tab.feed!.current !== net.nodes[0]!.id) ?? list[1]!;
      for (const tab of [bySeed, byOther]) times.push(await timeName(net, tab, `tab-service-${tab.index}`));
      t.diagnostic(`a tab's new name in every registry after ${times.map((x) => x.toFixed(0)).join(" and ")} ms`);
      for (const time of times) assert.ok(time <= NAMES_BOUND_MS, `a tab's name reached every member after ${time} ms`);
    });

    it(`a killed tab (a closed page) is dead in every view within ${DETECTION_BOUND_MS} ms`, async (t) => {
      await net.clock.runFor(2_000);
      const victim = tabs()[Math.floor(net.random() * tabs().length)]!;
      const d = await measureDetection(net, "kill", 10_000, victim);
      t.diagnostic(
        `killed tab: first suspicion at ${d.firstSuspicionMs.toFixed(0)} ms, first death ${d.firstDeathMs.toFixed(0)} ms, dead in all ${d.observers} views (tabs' too) at ${d.allDeadMs.toFixed(0)} ms`,
      );
      assert.ok(d.detected && d.allDeadMs <= DETECTION_BOUND_MS, `a killed tab was dead everywhere after ${d.allDeadMs} ms`);
    });

    it(`a tab that leaves (membership.stop()) is gone from every view within ${LEAVE_BOUND_MS} ms, by its leave`, async (t) => {
      await net.clock.runFor(2_000);
      const leaver = tabs()[Math.floor(net.random() * tabs().length)]!;
      const l = await measureLeave(net, leaver);
      t.diagnostic(`a tab left: gone from all ${l.observers} views at ${l.goneEverywhereMs.toFixed(0)} ms (${l.otherwiseGone} found it gone otherwise, ${l.suspicions} suspicions)`);
      assert.ok(l.goneEverywhereMs <= LEAVE_BOUND_MS, `a tab that left was gone everywhere after ${l.goneEverywhereMs} ms`);
      assert.equal(l.otherwiseGone, 0, `${l.otherwiseGone} members did not get the tab's leave`);
      assert.equal(l.suspicions, 0, "a tab that left was suspected");
    });

    it(`a tab's home is killed: it follows its other seed within ${MOVE_BOUND_MS} ms, is never suspected, and still sees changes`, async (t) => {
      await net.clock.runFor(2_000);
      // Seeds that are not node 0 (new members join through node 0).
      const candidates = fullNodes().filter((n) => n !== net.nodes[0]);
      const first = candidates[Math.floor(net.random() * candidates.length)]!;
      const second = candidates.filter((n) => n !== first)[Math.floor(net.random() * (candidates.length - 1))]!;
      const arrival = await measureTabArrival(net, [first, second]);
      const tab = arrival.tab;
      assert.ok(arrival.max <= TAB_ARRIVAL_BOUND_MS && arrival.ownViewMs <= TAB_ARRIVAL_BOUND_MS, "the tab did not arrive");
      // It follows the seed whose connection was admitted first.
      const home = [first, second].find((n) => n.id === tab.feed!.current);
      assert.ok(home !== undefined, "the tab follows neither of its seeds");
      const other = home === first ? second : first;
      await net.clock.runFor(5_000);

      const t0 = net.clock.now();
      net.kill(home);
      const moved = await net.clock.runUntil(() => tab.feed!.current === other.id && tab.membership.home === other.id, 10_000, 0);
      const moveMs = net.clock.now() - t0;
      const observers = net.liveNodes().filter((n) => n !== home);
      const homeDead = await net.clock.runUntil(() => net.everyoneSees(home, "dead", observers), 10_000, 0);
      const homeDeadMs = net.clock.now() - t0;
      await net.clock.runFor(3_000);
      const accused = net.eventsAbout(tab, t0).filter((e) => e.type !== "gone");
      t.diagnostic(
        `home killed: the tab follows its other seed after ${moveMs.toFixed(0)} ms; the home dead in all views at ${homeDeadMs.toFixed(0)} ms; ` +
          `${accused.length} suspicions or deaths of the tab`,
      );
      assert.ok(moved && moveMs <= MOVE_BOUND_MS, `the tab followed its other seed after ${moveMs} ms`);
      assert.ok(homeDead && homeDeadMs <= DETECTION_BOUND_MS, `its killed home was dead everywhere after ${homeDeadMs} ms`);
      assert.equal(accused.length, 0, `the tab was suspected or declared dead: ${accused.map((e) => `${e.type} by ${net.byId.get(e.observer)?.index}`).join(", ")}`);
      assert.ok(net.everyoneSees(tab, "alive"), "not every member sees the tab alive");

      // Changes still reach it: a full node joining now…
      const newcomer = net.addNode();
      const t1 = net.clock.now();
      const seen = await net.clock.runUntil(() => tab.view.get(newcomer.id) === "alive", 5_000, 0);
      const seenMs = net.clock.now() - t1;
      // …and its own changes reach everyone, published by its new home.
      const nameMs = await timeName(net, tab, "moved-tab-service");
      t.diagnostic(`after the move: a new full node in the tab's view at ${seenMs.toFixed(0)} ms; the tab's new name in every registry at ${nameMs.toFixed(0)} ms`);
      assert.ok(seen && seenMs <= TAB_ARRIVAL_BOUND_MS, `a full node that joined after the move was in the tab's view after ${seenMs} ms`);
      assert.ok(nameMs <= NAMES_BOUND_MS, `the moved tab's name reached every member after ${nameMs} ms`);
    });
  });
}

it("a tab's traffic at 200 + 50 is within 2× of 30 + 10 (quiet and under churn)", (t) => {
  const lines: string[] = [];
  for (const [what, figures] of [
    ["quiet", quiet],
    ["churn", churn],
  ] as const) {
    const small = figures.get(SIZES[0]!.full);
    const large = figures.get(SIZES[1]!.full);
    assert.ok(small !== undefined && large !== undefined, `both ${what} windows must have run`);
    const ratio = large.tabBytesPerSec / small.tabBytesPerSec;
    lines.push(
      `${what}: tab ${fmtBytes(large.tabBytesPerSec)} vs ${fmtBytes(small.tabBytesPerSec)} (×${ratio.toFixed(2)}), full node ${fmtBytes(large.fullBytesPerSec)} vs ${fmtBytes(small.fullBytesPerSec)}`,
    );
    assert.ok(ratio <= 2, `${what}: a tab's traffic at 200 + 50 is ×${ratio.toFixed(2)} that at 30 + 10`);
  }
  t.diagnostic(`per member, 200 + 50 vs 30 + 10: ${lines.join("; ")}`);
});

/** Failures a tab meets in the wild (a throttled page, a laptop asleep, its seeds gone), at 30 full nodes + 10 tabs. */
describe("membership simulation with tabs: throttled, cut off, stranded", () => {
  const setUp = async (seed: number): Promise<{ net: SimNetwork; tab: SimNode; first: SimNode; second: SimNode }> => {
    const net = new SimNetwork({ seed, Membership });
    assert.ok((await buildCluster(net, 30)).converged, "30 full nodes did not converge");
    await net.clock.runFor(2_000);
    assert.ok((await addTabs(net, 10)).convergedMs <= TAB_ARRIVAL_BOUND_MS, "10 tabs did not arrive");
    const full = net.liveNodes().filter((n) => !n.isTab && n !== net.nodes[0]);
    const first = full[Math.floor(net.random() * full.length)]!;
    const second = full.filter((n) => n !== first)[Math.floor(net.random() * (full.length - 1))]!;
    const { tab, max } = await measureTabArrival(net, [first, second]);
    assert.ok(max <= TAB_ARRIVAL_BOUND_MS, "the tab did not arrive");
    await net.clock.runFor(5_000);
    return { net, tab, first, second };
  };

  // A tab's first entry (the seed takes it in at the join, before the tab follows a home) has no home; the entry
  // that names its home came with the same incarnation, so a member that missed it kept the homeless one for good
  // (anti-entropy saw equal tables) and dropped the tab's leave, which only its home may publish. Following a home
  // now bumps the tab's incarnation. (Found by the leave test above at 200 + 50, where four tabs missed a leave.)
  it("a member that missed the entry naming a tab's home still takes the tab's leave", async (t) => {
    const net = new SimNetwork({ seed: 9_005, Membership });
    try {
      assert.ok((await buildCluster(net, 30)).converged, "30 full nodes did not converge");
      await net.clock.runFor(2_000);
      const full = net.liveNodes().filter((n) => !n.isTab && n !== net.nodes[0]);
      const [home, other, member] = full;
      const tab = net.addTab([home!, other!]);
      const entryAt = (node: SimNode) => (node.membership.digestFor({}) as Array<{ id: string; home?: string; inc: number }>).find((e) => e.id === tab.id);
      assert.ok(await net.clock.runUntil(() => entryAt(member!) !== undefined, 2_000, 0), "the member never heard of the tab");
      const missed = entryAt(member!)!;
      assert.equal(missed.home, undefined, "the member's first entry of the tab already names a home: nothing is missed here");
      // Cut off while the tab follows its home: the entry naming the home goes by.
      net.partition([member!]);
      assert.ok(await net.clock.runUntil(() => entryAt(net.nodes[0]!)?.home === home!.id, 2_000, 0), "the tab did not follow its home");
      await net.clock.runFor(200);
      net.heal();
      await net.clock.runFor(40_000); // a few anti-entropy rounds
      t.diagnostic(`the member's entry of the tab after the heal: ${JSON.stringify({ home: entryAt(member!)?.home === home!.id ? "its home" : entryAt(member!)?.home, incBumped: (entryAt(member!)?.inc ?? 0) > missed.inc })}`);
      const l = await measureLeave(net, tab);
      assert.ok(l.goneEverywhereMs <= LEAVE_BOUND_MS, `the tab was gone everywhere after ${l.goneEverywhereMs} ms`);
      assert.equal(l.otherwiseGone, 0, `${l.otherwiseGone} members did not take the tab's leave`);
    } finally {
      net.dispose();
    }
  });

  // A background tab's timers are throttled, a hidden one's frozen: it is dead meanwhile, and back when it wakes.
  it(`a frozen tab is dead in every view within ${DETECTION_BOUND_MS} ms, and back when it thaws`, async (t) => {
    const { net, tab } = await setUp(9_001);
    try {
      const d = await measureDetection(net, "freeze", 10_000, tab);
      await net.clock.runFor(1_000);
      net.thaw(tab);
      const back = await measureReconvergence(net, 5_000);
      t.diagnostic(`frozen tab: first suspicion at ${d.firstSuspicionMs.toFixed(0)} ms, dead in all ${d.observers} views at ${d.allDeadMs.toFixed(0)} ms; thawed 1 s later: views complete again ${back.toFixed(0)} ms after the thaw`);
      assert.ok(d.detected && d.allDeadMs <= DETECTION_BOUND_MS, `a frozen tab was dead everywhere after ${d.allDeadMs} ms`);
      assert.ok(back <= 5_000, "the thawed tab is not back in every view (nor every member in its view)");
    } finally {
      net.dispose();
    }
  });

  // The tab learns nothing while its home is silent, until the connection monitor closes the connection.
  it("a tab whose home is cut off follows its other seed once the link times out, and is never declared dead", async (t) => {
    const { net, tab, first, second } = await setUp(9_002);
    try {
      const home = tab.feed!.current === first.id ? first : second;
      const other = home === first ? second : first;
      const t0 = net.clock.now();
      net.partition([home]);
      const moved = await net.clock.runUntil(() => tab.feed!.current === other.id, 30_000, 0);
      const moveMs = net.clock.now() - t0;
      const homeDeadForTab = await net.clock.runUntil(() => tab.view.get(home.id) === "dead", 10_000, 0);
      const homeDeadMs = net.clock.now() - t0;
      const accused = net.eventsAbout(tab, t0).filter((e) => e.type !== "gone" && e.observer !== home.id);
      net.heal();
      const back = await measureReconvergence(net, 10_000);
      t.diagnostic(
        `home cut off: the tab follows its other seed after ${moveMs.toFixed(0)} ms (link timeout ${net.options.linkTimeoutMs} ms), sees its old home dead at ${homeDeadMs.toFixed(0)} ms; ` +
          `${accused.length} suspicions of the tab (by members other than its cut-off home); views complete ${back.toFixed(0)} ms after the heal`,
      );
      assert.ok(moved && moveMs <= net.options.linkTimeoutMs + 2_000, `the tab followed its other seed after ${moveMs} ms`);
      assert.ok(homeDeadForTab && homeDeadMs <= net.options.linkTimeoutMs + 2_000 + DETECTION_BOUND_MS, `the tab saw its cut-off home dead after ${homeDeadMs} ms`);
      assert.equal(accused.length, 0, "the tab was suspected by members that could reach it");
      assert.ok(back <= 5_000, `views not complete ${back} ms after the heal`);
    } finally {
      net.dispose();
    }
  });

  // A tab that probed members whose connections dropped (as full nodes do) declared its own seeds dead when cut off
  // beyond the link timeout, so they were no candidate homes after the heal: it stayed homeless (dead in every view)
  // until its seeds' anti-entropy made them refute (10–17 s). Tabs probe nobody now.
  it(
    "a tab cut off for longer than the link timeout (a laptop asleep) is back within 8 s of the heal, and accuses nobody",
    async (t) => {
      const { net, tab } = await setUp(9_003);
      try {
        const t0 = net.clock.now();
        const d = await measureDetection(net, "partition", 10_000, tab);
        assert.ok(d.detected, "the cut-off tab was not declared dead");
        await net.clock.runFor(15_000); // > the link timeout: its connections are closed
        const seedIncarnations = tab.seeds.map((s) => s.membership.incarnation);
        const healedAt = net.clock.now();
        net.heal();
        const back = await measureReconvergence(net, 30_000);
        const accusedByTab = net.events.filter((e) => e.t >= t0 && e.observer === tab.id && e.type !== "gone");
        const refuted = tab.seeds.filter((s, i) => s.membership.incarnation !== seedIncarnations[i]).length;
        t.diagnostic(`back in every view ${back.toFixed(0)} ms after the heal (at ${(healedAt - t0).toFixed(0)} ms); the tab suspected or buried ${accusedByTab.length} times; ${refuted} of its seeds had to refute`);
        assert.ok(back <= 8_000, `the tab was back ${back} ms after the heal`);
        assert.equal(accusedByTab.length, 0, `the tab accused members: ${accusedByTab.map((e) => `${e.type} of ${net.byId.get(e.subject)?.index}`).join(", ")}`);
      } finally {
        net.dispose();
      }
    },
  );

  // A tab whose two seeds died had no candidate home (only connected peers were) and nobody watched it (full nodes
  // watch the tabs connected to them): it stayed alive in every view for good, learnt nothing, and was reachable by
  // nobody (its addresses relayed through the dead seeds). Now it follows another full member it knows (dialed).
  it(
    "a tab whose seeds both die follows another full node, or is dead in every view, within 10 s",
    async (t) => {
      const { net, tab } = await setUp(9_004);
      try {
        const t0 = net.clock.now();
        for (const seed of tab.seeds) net.kill(seed);
        const others = (): SimNode[] => net.liveNodes().filter((n) => n !== tab);
        const settled = await net.clock.runUntil(
          () => (tab.feed!.current !== undefined && net.byId.get(tab.feed!.current)!.up) || net.everyoneSees(tab, "dead", others()),
          10_000,
          0,
        );
        t.diagnostic(
          `${((net.clock.now() - t0) / 1000).toFixed(1)} s after both seeds died: the tab follows ${tab.feed!.current === undefined ? "nobody" : `node ${net.byId.get(tab.feed!.current)!.index}`}, ` +
            `${others().filter((n) => n.view.get(tab.id) === "alive").length} of ${others().length} members see it alive`,
        );
        assert.ok(settled, "the tab follows nobody and is alive in the views of members that cannot reach it");
      } finally {
        net.dispose();
      }
    },
  );
});

