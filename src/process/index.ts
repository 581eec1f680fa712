/**
 * Processes on any node (issue 13): the isomorphic client half of `subprocess` — handles, placement, calls to the
 * process runners of other nodes. No `node:` imports: a browser tab uses it to run processes on Node nodes. The
 * local half (`child_process`) and the runner actor live in `src/node/`, reached through `#platform`.
 */
export { subprocess, run, spawn, ProcessFailedError } from "./api.js";
export type { CompletedProcess } from "./handle.js";
export { Subprocess } from "./handle.js";
export type { ProcessInput } from "./handle.js";
export { ProcessOutput } from "./output.js";
export type { CommunicateOptions, PlacementOptions, RunOptions, SpawnProcessOptions } from "./options.js";
export type { AdvertisedResources, ProcessExit, ProcessResources, StdioMode } from "../platform/processes.js";
