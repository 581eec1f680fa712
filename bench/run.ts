/**
 * `npm run bench`: every benchmark, each printed next to its floor from the same run.
 *   npm run bench -- local      only the named groups (local, remote, worker, cluster, queue, browser, tab-cpu, web-worker, membership-sim)
 * The cluster group includes a one-minute run with a CPU-busy node.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { benchCluster } from "./cluster.js";
import { benchLocal } from "./local.js";
import { benchMembershipSim } from "./membership-sim.js";
import { benchQueue } from "./queue.js";
import { benchRemote } from "./remote.js";
import { benchWorker } from "./worker.js";

const groups: Record<string, () => Promise<void>> = {
  local: benchLocal,
  remote: benchRemote,
  // A call into a worker thread's actor against a plain postMessage round trip (bench/worker.ts).
  worker: benchWorker,
  cluster: () => benchCluster(),
  // The real membership code at up to 1,000+ simulated members (sim clock and network; see bench/membership-sim.ts).
  "membership-sim": () => benchMembershipSim(),
  // Queues and topics against Redis (redis-server started on a loopback port; see bench/queue.ts).
  queue: benchQueue,
  // In the browser tests' environment (Chromium, a network namespace for WebRTC): see e2e/run.mjs.
  browser: () => inBrowserEnvironment("browser"),
  // A dashboard tab's CPU and membership traffic with 3 tabs open and some churn (bench/tab-cpu.ts), same environment.
  "tab-cpu": () => inBrowserEnvironment("tab-cpu"),
  // A tab's call into its Web Worker node against a plain postMessage round trip (bench/web-worker.ts), same environment.
  "web-worker": () => inBrowserEnvironment("web-worker"),
};

function inBrowserEnvironment(bench: string): Promise<void> {
  const runner = fileURLToPath(new URL("../e2e/run.mjs", import.meta.url));
  const result = spawnSync(process.execPath, [runner, `--bench=${bench}`], { stdio: "inherit" });
  if (result.status !== 0) throw new Error(`the ${bench} benchmark failed (${result.status ?? result.signal})`);
  return Promise.resolve();
}

const wanted = process.argv.slice(2);
for (const [name, run] of Object.entries(groups)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  await run();
}
