/**
 * Pulsing for TypeScript: a distributed actor runtime whose same actor code runs in Node, Deno and browser tabs.
 *
 * ```ts
 * import * as pul from "pulsing";
 * await pul.init();
 * const Counter = pul.remote(class Counter { value = 0; incr() { return ++this.value; } });
 * const counter = await Counter.spawn({ name: "counter" });
 * await counter.incr(); // 1
 * ```
 *
 * @packageDocumentation
 */
import "./util/polyfills.js";

export {
  init,
  shutdown,
  isInitialized,
  getSystem,
  actorSystem,
  spawn,
  resolve,
  refer,
  mount,
  unmount,
  askWithTimeout,
  getSystemActor,
  queue,
  topic,
} from "./global.js";
export type { SpawnArgs, ResolveProxyOptions } from "./global.js";

export { remote } from "./remote.js";
export type { RemoteStatics, RemoteClass } from "./remote.js";
export type { RemoteOptions } from "./actor/class-registry.js";

export { ActorSystem } from "./system/actor-system.js";
export type { ActorSystemEvents } from "./system/actor-system.js";
export type { ActorSystemOptions, MountOptions, ResolveOptions, SpawnOptions, WebRTCOptions } from "./system/options.js";
export { ActorRef } from "./actor/actor-ref.js";
export { ActorId } from "./actor/actor-id.js";
export { Actor } from "./actor/actor.js";
export { currentContext } from "./actor/context.js";
export type { ActorContext } from "./actor/context.js";
export type { ActorStream } from "./actor/actor-stream.js";
export type { ActorCall } from "./actor/call-handle.js";
export type { CallOptions } from "./actor/call-types.js";
export type {
  ActorProxy,
  TypedActorProxy,
  AnyActorProxy,
  ProxyBase,
  ProxyMethod,
  MethodNames,
  ActorClass,
} from "./actor/proxy-types.js";
export { Message, StreamMessage, StreamReader, StreamWriter } from "./actor/message.js";
export { stateful, BehaviorAction } from "./actor/behavior.js";
export type { Behavior, BehaviorHandler } from "./actor/behavior.js";
export type { RestartPolicy, SupervisionOptions } from "./actor/supervision.js";
export { SystemActor } from "./actor/system-actor.js";
export type { ActorInfo, NodeInfo, NodeMetrics, HealthStatus, PingReply } from "./actor/system-actor.js";
export type { RuntimeKind } from "./platform/platform.js";
export type { ConnectionInfo } from "./transport/mesh.js";
export type { Member, MembershipOptions } from "./cluster/membership.js";
export type { ResolvePolicy } from "./cluster/resolve-policy.js";
export { QueueWriter, QueueReader } from "./streaming/queue.js";
export type { QueueApi, QueueWriteOptions, QueueReadOptions, QueueGetOptions, QueueStats } from "./streaming/queue.js";
export { MemoryBackend } from "./streaming/backend.js";
export { TopicWriter, TopicReader } from "./streaming/topic.js";
export type { TopicApi, PublishMode, PublishOptions, PublishResult, TopicReaderStats } from "./streaming/topic.js";
export type { StorageBackend, StorageBackendClass, BackendInit, QueueRecord } from "./streaming/backend.js";
export type { NameEntry } from "./cluster/registry.js";

export {
  ErrorCode,
  PulsingError,
  PulsingRuntimeError,
  PulsingActorError,
  PulsingBusinessError,
  PulsingSystemError,
  PulsingTimeoutError,
  PulsingUnsupportedError,
} from "./errors/errors.js";

// Processes on any node: isomorphic (a tab runs them on Node nodes); `pulsing/node` exports the same `subprocess`.
export { subprocess, ProcessFailedError, ProcessOutput, Subprocess } from "./process/index.js";
export type {
  AdvertisedResources,
  CommunicateOptions,
  CompletedProcess,
  PlacementOptions,
  ProcessExit,
  ProcessInput,
  ProcessResources,
  RunOptions,
  SpawnProcessOptions,
  StdioMode,
} from "./process/index.js";
