/**
 * `resolve(name, { nodeId, timeout })` does not depend on gossip alone: while it waits, it asks that node for its
 * names. A name change whose gossip was lost (or is slow under load) is found within the call, not at the next
 * anti-entropy round (2.5–7.5 s on a small cluster) or never within the timeout.
 */
import type { GossipSub } from "@libp2p/gossipsub";
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as pul from "pulsing";
import { Counter } from "./fixtures/actors.js";
import { inProcessCluster } from "./cluster/harness.js";
import { hasCode } from "./helpers.js";

const MEMBERS_TOPIC = "/pulsing/default/members/1";

/** Drops what `system` publishes on the membership topic until the returned function is called. */
function muteMembershipGossip(system: pul.ActorSystem): () => void {
  const pubsub = system.mesh!.node.services.pubsub as GossipSub;
  const publish = pubsub.publish.bind(pubsub);
  pubsub.publish = (async (topic: string, data?: Uint8Array) => {
    if (topic === MEMBERS_TOPIC) return { recipients: [] };
    return publish(topic, data);
  }) as typeof pubsub.publish;
  return () => void (pubsub.publish = publish);
}

describe("resolve(name, { nodeId }) when the name's gossip is lost", () => {
  let a: pul.ActorSystem;
  let b: pul.ActorSystem;
  before(async () => void ([a, b] = await inProcessCluster(2)));
  after(async () => void (await Promise.all([a, b].map((s) => s.shutdown()))));

  it("finds a name the node registered while its gossip was lost, within the call", async () => {
    const unmute = muteMembershipGossip(b);
    try {
      const spawned = await b.spawn(Counter, { name: "quiet-counter", public: true, args: [41] });
      // A call without `nodeId` has no node to ask: it still sees only what gossip brought.
      assert.equal(await a.hasActor("quiet-counter"), false, "the gossip was not lost: the test proves nothing");
      const found = await a.resolve("quiet-counter", { nodeId: b.nodeId, timeout: 2_000 });
      assert.equal(found.actorId.toString(), spawned.actorId.toString());
      assert.equal(await found.asType(Counter).add(1), 42);
      // What the node answered is in the replica now: a resolve without `nodeId` finds it too.
      assert.equal((await a.resolve("quiet-counter")).actorId.toString(), spawned.actorId.toString());
    } finally {
      unmute();
    }
  });

  it("a name the node does not have still fails with ACTOR_NOT_FOUND at the timeout", async () => {
    await assert.rejects(a.resolve("no-such-name", { nodeId: b.nodeId, timeout: 1_500 }), hasCode("ACTOR_NOT_FOUND"));
  });
});
