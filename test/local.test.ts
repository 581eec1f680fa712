import * as pul from "pulsing";
import { behaviourSuite } from "./behaviour/suite.js";

behaviourSuite("local", async () => {
  const system = await pul.actorSystem();
  return {
    caller: system,
    actorNode: system.nodeId,
    spawn: async <C extends pul.ActorClass>(cls: C, options?: pul.SpawnOptions) =>
      (await system.spawn(cls, options)).asType(cls) as pul.ActorProxy<InstanceType<C>>,
    spawnRef: (cls, options) => system.spawn(cls, options),
    close: () => system.shutdown(),
  };
});
