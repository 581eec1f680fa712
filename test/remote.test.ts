/**
 * The behavioural suite against actors on another process: the caller is this process's system, the actors
 * are spawned (remote spawn) on a child node that joined through it over TCP.
 */
import * as pul from "pulsing";
import { behaviourSuite } from "./behaviour/suite.js";
import { startNode } from "./cluster/harness.js";

behaviourSuite("remote, another process over TCP", async () => {
  const caller = await pul.actorSystem({ addr: "127.0.0.1:0" });
  // With stacks (a development option): the suite checks a remote error's stack arrives when asked for; by
  // default none is sent (test/hostile-rpc.test.ts).
  const child = await startNode({ seeds: [caller.addrs[0]!], errorStacks: true });
  return {
    caller,
    actorNode: child.nodeId,
    spawn: async <C extends pul.ActorClass>(cls: C, options?: pul.SpawnOptions) =>
      (await caller.spawn(cls, { ...options, node: child.nodeId })).asType(cls) as pul.ActorProxy<InstanceType<C>>,
    spawnRef: (cls, options) => caller.spawn(cls, { ...options, node: child.nodeId }),
    close: async () => {
      await child.stop();
      await caller.shutdown();
    },
  };
});
