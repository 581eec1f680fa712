import { availableParallelism, totalmem } from "node:os";
import { PROCESS_RUNNER_NAME, type ProcessSupport } from "../platform/processes.js";
import { spawnLocal } from "./local-process.js";
import { ProcessRunner } from "./process-runner.js";

/** Processes on Node and Deno (`platform.processes`): `child_process` here, and the runner of `serveProcesses`. */
export const processSupport: ProcessSupport = {
  spawn: spawnLocal,
  defaultResources: () => ({ cpus: availableParallelism(), memory: totalmem() }),
  serve: async (host, resources) => {
    const defaults = processSupport.defaultResources();
    const offered = { cpus: resources.cpus ?? defaults.cpus, memory: resources.memory ?? defaults.memory, labels: { ...resources.labels } };
    await host.spawn(() => new ProcessRunner(host, offered), { name: PROCESS_RUNNER_NAME, public: true });
  },
};
