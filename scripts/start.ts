/**
 * `npm start`: a seed node with the live dashboard, on embedded defaults.
 *
 *   TCP 8000 and WebSockets 8001 (browsers) for the cluster, the dashboard on http://127.0.0.1:8080/,
 *   the demo's shared actors ("demo/tokens", "chat/lobby") hosted on the seed.
 *
 * Builds the dashboard first when dist/demo is missing or older than demo/. Override with PULSING_ADDR,
 * PULSING_HTTP_PORT, PULSING_PASSPHRASE; PULSING_SEEDS (comma-separated) joins other seeds.
 *
 * The seed keeps its identity (node id) across restarts in a key file, `.pulsing/seed-<port>.key` under the
 * working directory (PULSING_KEY_FILE to choose another): tabs that were open keep dialing the same id at the same
 * address, and find it again when it is back. The port is in the name so that two seeds started from one checkout
 * (on two ports) do not share an identity.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { hostDemoActors } from "../examples/demo-actors.js";
import { pipelineReply, startFakeLlmServer, type FakeLlmServer } from "../examples/fake-llm-server.js";
import { hostPipelineAgents } from "../examples/pipeline-agents.js";
import { loadOrCreatePrivateKey, startSeed } from "../src/node/index.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const built = join(root, "dist/demo/index.html");

function newest(dir: string): number {
  return Math.max(
    0,
    ...readdirSync(dir).map((name) => {
      const path = join(dir, name);
      const info = statSync(path);
      return info.isDirectory() ? newest(path) : info.mtimeMs;
    }),
  );
}

const sources = Math.max(newest(join(root, "demo")), newest(join(root, "src")), newest(join(root, "examples")));
if (!existsSync(built) || statSync(built).mtimeMs < sources) {
  console.log("building the dashboard…");
  const result = spawnSync(process.execPath, [join(root, "node_modules/vite/bin/vite.js"), "build", "--logLevel", "warn"], {
    cwd: root,
    stdio: "inherit",
  });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

const addr = process.env.PULSING_ADDR ?? "0.0.0.0:8000";
const port = Number(process.env.PULSING_HTTP_PORT ?? 8080);
const passphrase = process.env.PULSING_PASSPHRASE;
const seeds = (process.env.PULSING_SEEDS ?? "").split(",").map((s) => s.trim()).filter((s) => s.length > 0);
const keyFile = resolve(process.env.PULSING_KEY_FILE ?? join(".pulsing", `seed-${portOf(addr)}.key`));
const privateKey = await loadOrCreatePrivateKey(keyFile).catch((error: unknown) => {
  console.error(`could not read or create the seed's key file ${keyFile}: ${(error as Error).message}`);
  console.error("(set PULSING_KEY_FILE to a writable path)");
  process.exit(1);
});
const seed = await startSeed({
  addr,
  privateKey,
  ...(seeds.length > 0 ? { seeds } : {}),
  dashboard: { root: join(root, "dist/demo"), port },
  ...(passphrase !== undefined ? { passphrase } : {}),
}).catch((error: unknown) => {
  console.error(`could not start the seed on ${addr} / http ${port}: ${(error as Error).message}`);
  console.error("(set PULSING_ADDR=host:port and PULSING_HTTP_PORT to use other ports)");
  process.exit(1);
});
await hostDemoActors(seed.system);
const model = await startAgents();

console.log(`seed ${seed.system.nodeId} (identity kept in ${keyFile})`);
for (const a of seed.system.addrs) console.log(`  listening ${a}`);
console.log(`  ${model.line}`);
console.log(`\n  dashboard: ${seed.url}${passphrase !== undefined ? "#secret=<passphrase>" : ""}`);
console.log("  open it in two tabs: each tab joins the cluster as a node. Ctrl-C stops the seed.\n");

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await Promise.allSettled([seed.stop(), model.fake?.close()]);
  process.exit(0);
};
process.once("SIGINT", () => void stop());
process.once("SIGTERM", () => void stop());

/**
 * The agent pipeline's Node side on the seed, against OPENAI_BASE_URL or, without it, the fake model server on a free
 * loopback port. Never fatal: without a model endpoint the seed runs without agents.
 */
async function startAgents(): Promise<{ line: string; fake?: FakeLlmServer }> {
  const baseURL = process.env.OPENAI_BASE_URL?.trim();
  let fake: FakeLlmServer | undefined;
  let line: string;
  try {
    if (baseURL) {
      const model = process.env.OPENAI_MODEL?.trim();
      // Each agent reads OPENAI_BASE_URL, OPENAI_MODEL and OPENAI_API_KEY when it first calls llm().
      await hostPipelineAgents(seed.system);
      line = model
        ? `agents: model ${model} at ${baseURL} (OPENAI_BASE_URL)`
        : `agents: ${baseURL} (OPENAI_BASE_URL) but no OPENAI_MODEL: set it, or the agents' model calls fail`;
    } else {
      fake = await startFakeLlmServer({ host: "127.0.0.1", tokenDelayMs: 40, reply: pipelineReply });
      await hostPipelineAgents(seed.system, { baseURL: fake.baseURL, model: "fake-model", maxRetries: 0 });
      line = `agents: the local fake model server at ${fake.baseURL} (set OPENAI_BASE_URL, OPENAI_MODEL, OPENAI_API_KEY for a real one)`;
    }
  } catch (error) {
    await fake?.close().catch(() => undefined);
    return { line: `agents: not started (${(error as Error).message}); the rest of the dashboard works without them` };
  }
  return { line, ...(fake !== undefined ? { fake } : {}) };
}

/** The TCP port of a `"host:port"` or multiaddr listen address (for the key file's name). */
function portOf(listen: string): string {
  return /\/tcp\/(\d+)/.exec(listen)?.[1] ?? /:(\d+)$/.exec(listen)?.[1] ?? "default";
}
