/**
 * `pulsing/node` as a browser build resolves it (the `browser` condition): what of it a tab or a Web Worker can
 * use. Web Workers as nodes (`spawnWorkers`, `initInsideWorker`), and `subprocess`, which runs processes on Node
 * nodes that serve them (a browser has no processes of its own). Seeds, identities on disk and the CLI are Node's.
 * @packageDocumentation
 */
import "../util/polyfills.js";

export { subprocess, ProcessFailedError, ProcessOutput, Subprocess } from "../process/index.js";
export type { CommunicateOptions, CompletedProcess, ProcessExit, ProcessResources, RunOptions, SpawnProcessOptions } from "../process/index.js";
export { initInsideWorker, spawnWorkers } from "./web-workers.js";
export type { SpawnWorkersOptions, WorkerInitOptions, WorkerNode } from "./web-workers.js";
