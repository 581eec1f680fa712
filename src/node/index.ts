/**
 * `pulsing/node`: the Node-only parts — seeds with the dashboard, identities on disk, the CLI.
 * @packageDocumentation
 */
import "../util/polyfills.js";

export { startSeed } from "./seed.js";
export type { DashboardOptions, Seed, SeedOptions } from "./seed.js";
export { generatePrivateKey, loadOrCreatePrivateKey } from "./identity.js";
// The same `subprocess` as `pulsing`'s (API.md imports it from here); here it always has local processes.
export { subprocess, ProcessFailedError, ProcessOutput, Subprocess } from "../process/index.js";
export type { CommunicateOptions, CompletedProcess, ProcessExit, ProcessResources, RunOptions, SpawnProcessOptions } from "../process/index.js";
// Worker threads as nodes of the parent's cluster, joined over a MessagePort.
export { initInsideWorker, spawnWorkers } from "./workers.js";
export type { SpawnWorkersOptions, WorkerInitOptions, WorkerNode } from "./workers.js";
