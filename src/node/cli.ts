#!/usr/bin/env node
/**
 * The `pulsing` command.
 *
 *   pulsing seed [--addr 0.0.0.0:8000] [--passphrase S] [--http 8080] [--dashboard DIR] [--seeds A,B] [--key FILE]
 *                [--serve-processes]
 *   pulsing inspect members|actors|metrics|queues|topics --seeds ADDR [--passphrase S] [--json] [--interval MS]
 */
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import * as pul from "../index.js";
import { collectReports, queueViews, topicViews, type NodeReport, type QueueView, type TopicView } from "./cluster-report.js";
import { loadOrCreatePrivateKey } from "./identity.js";
import { startSeed } from "./seed.js";

const USAGE = `usage:
  pulsing seed [--addr host:port] [--passphrase secret] [--http port] [--dashboard dir] [--seeds a,b] [--key file]
               [--serve-processes]
      a seed node: TCP on the port, WebSockets on port+1, a circuit relay for browser tabs, and (with
      --dashboard) the dashboard over HTTP (--http, default 8080); --serve-processes lets every admitted
      member (browser tabs included) run any command on this machine as this user (off by default)
  pulsing inspect members|actors|metrics|queues|topics --seeds addr[,addr] [--passphrase secret] [--json] [--interval ms]
      join the cluster briefly and print what its members report; queues (per bucket: owner, replicas, records,
      writes and reads per second) and topics (subscribers, publishes per second) take two samples --interval ms
      apart (default 1000) for their rates`;

/** How long a member may take to answer `inspect`. */
const INSPECT_TIMEOUT_MS = 5_000;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === "seed") return seed(rest);
  if (command === "inspect") return inspect(rest);
  console.error(USAGE);
  return command === undefined || command === "help" || command === "--help" ? 0 : 2;
}

async function seed(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      addr: { type: "string", default: "0.0.0.0:8000" },
      passphrase: { type: "string" },
      http: { type: "string", default: "8080" },
      dashboard: { type: "string" },
      seeds: { type: "string" },
      key: { type: "string" },
      "serve-processes": { type: "boolean", default: false },
    },
  });
  const node = await startSeed({
    addr: values.addr!,
    ...(values.passphrase !== undefined ? { passphrase: values.passphrase } : {}),
    ...(values.seeds !== undefined ? { seeds: values.seeds.split(",").filter(Boolean) } : {}),
    ...(values.dashboard !== undefined ? { dashboard: { root: values.dashboard, port: Number(values.http) } } : {}),
    ...(values.key !== undefined ? { privateKey: await loadOrCreatePrivateKey(values.key) } : {}),
    ...(values["serve-processes"] ? { serveProcesses: true } : {}),
  });
  console.log(`seed ${node.system.nodeId}`);
  if (values["serve-processes"]) console.log("  serving processes: any admitted member can run commands here as this user");
  for (const addr of node.system.addrs) console.log(`  listening ${addr}`);
  if (node.url !== undefined) console.log(`  dashboard ${node.url}`);
  await waitForSignal();
  await node.stop();
  return 0;
}

async function inspect(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      seeds: { type: "string" },
      passphrase: { type: "string" },
      json: { type: "boolean", default: false },
      interval: { type: "string", default: "1000" },
    },
  });
  const what = positionals[0];
  const intervalMs = Number(values.interval);
  if (!["members", "actors", "metrics", "queues", "topics"].includes(what ?? "") || values.seeds === undefined || !(intervalMs >= 0)) {
    console.error(USAGE);
    return 2;
  }
  const system = await pul.actorSystem({
    seeds: values.seeds.split(",").filter(Boolean),
    ...(values.passphrase !== undefined ? { passphrase: values.passphrase } : {}),
  });
  try {
    await settle(system);
    const others = system.members().filter((m) => m.nodeId !== system.nodeId);
    let report: unknown;
    if (what === "members") {
      report = others;
    } else if (what === "queues" || what === "topics") {
      // This process is a full member too: buckets it took over while it was in the cluster belong in the view.
      report = await sampleStreams(system, system.members().filter((m) => m.status !== "dead"), what, intervalMs);
    } else {
      report = await Promise.all(
        others
          .filter((m) => m.status !== "dead")
          .map(async (m) => {
            const sys = (await pul.getSystemActor(system, m.nodeId)).withOptions({ timeout: INSPECT_TIMEOUT_MS });
            try {
              return { nodeId: m.nodeId, [what!]: what === "actors" ? await sys.listActors() : await sys.getMetrics() };
            } catch (error) {
              return { nodeId: m.nodeId, error: (error as Error).message };
            }
          }),
      );
    }
    if (values.json) console.log(JSON.stringify(report, null, 2));
    else print(what!, report);
    return 0;
  } finally {
    await system.shutdown();
  }
}

/** Waits until the member list stops growing (membership converges in a few heartbeats). */
async function settle(system: pul.ActorSystem): Promise<void> {
  let count = -1;
  for (let round = 0; round < 20; round++) {
    await new Promise((resolve) => setTimeout(resolve, 300));
    const now = system.members().length;
    if (now === count && now > 1) return;
    count = now;
  }
}

/**
 * Queues or topics of the cluster, with rates from two samples `intervalMs` apart (counters' differences over the
 * answering nodes' own elapsed time for buckets, over this process's for topics). Nodes that did not answer either
 * time are listed under `errors`.
 */
async function sampleStreams(
  system: pul.ActorSystem,
  members: pul.Member[],
  what: "queues" | "topics",
  intervalMs: number,
): Promise<{ intervalMs: number; queues?: QueueView[]; topics?: TopicView[]; errors: Array<{ nodeId: string; error: string }> }> {
  const first = await collectReports(system, members, { streams: true }, INSPECT_TIMEOUT_MS);
  const firstAt = performance.now();
  await new Promise((resolve) => setTimeout(resolve, intervalMs));
  const second = await collectReports(system, members, { streams: true }, INSPECT_TIMEOUT_MS);
  const seconds = (performance.now() - firstAt) / 1000;
  const errors = second.filter((r): r is NodeReport & { error: string } => r.error !== undefined).map((r) => ({ nodeId: r.member.nodeId, error: r.error }));
  if (what === "queues") return { intervalMs, queues: queueViews(second, first), errors };
  return { intervalMs, topics: topicViews(second, { reports: first, seconds }), errors };
}

const short = (nodeId: string): string => `…${nodeId.slice(-8)}`;
const rate = (value: number | undefined): string => (value === undefined ? "-" : value.toFixed(1));

function printStreams(report: { queues?: QueueView[]; topics?: TopicView[]; errors: Array<{ nodeId: string; error: string }> }): void {
  if (report.queues !== undefined) {
    if (report.queues.length === 0) console.log("no queues");
    for (const q of report.queues) {
      console.log(`queue ${q.topic}  buckets=${q.buckets.length} records=${q.count}`);
      console.log(`  ${"bucket".padEnd(7)}${"owner".padEnd(12)}${"replicas".padEnd(26)}${"records".padStart(9)}${"write/s".padStart(10)}${"read/s".padStart(10)}`);
      for (const b of q.buckets) {
        const replicas = b.replicas.length > 0 ? b.replicas.map(short).join(",") : "-";
        console.log(
          `  ${String(b.bucketId).padEnd(7)}${short(b.owner).padEnd(12)}${replicas.padEnd(26)}${String(b.count).padStart(9)}${rate(b.writeRate).padStart(10)}${rate(b.readRate).padStart(10)}`,
        );
      }
    }
  }
  if (report.topics !== undefined) {
    if (report.topics.length === 0) console.log("no topics");
    for (const t of report.topics) {
      console.log(
        `topic ${t.topic}  subscribers=${t.subscribers.length} published=${t.published} publish/s=${rate(t.publishRate)} received=${t.received} receive/s=${rate(t.receiveRate)}`,
      );
      for (const node of t.subscribers) console.log(`  subscriber ${node}`);
    }
  }
  for (const e of report.errors) console.log(`${e.nodeId}\n  error: ${e.error}`);
}

function print(what: string, report: unknown): void {
  if (what === "queues" || what === "topics") {
    printStreams(report as Parameters<typeof printStreams>[0]);
    return;
  }
  if (what === "members") {
    for (const m of report as pul.Member[]) {
      console.log(`${m.status.padEnd(8)} ${m.runtime.padEnd(8)} ${m.nodeId}  ${m.actors.join(", ")}`);
    }
    return;
  }
  for (const entry of report as Array<Record<string, unknown>>) {
    console.log(entry.nodeId);
    if (entry.error !== undefined) console.log(`  error: ${String(entry.error)}`);
    else if (what === "actors") {
      for (const a of entry.actors as pul.ActorInfo[]) {
        console.log(`  ${String(a.name ?? a.actorId).padEnd(32)} ${String(a.className ?? "").padEnd(16)} ${a.status} processed=${a.processed}`);
      }
    } else console.log(`  ${JSON.stringify(entry.metrics)}`);
  }
}

function waitForSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
}

/** This module is the program: run directly, with tsx, or as the `pulsing` bin (a symlink in node_modules/.bin). */
function isMain(argv1: string | undefined): boolean {
  if (argv1 === undefined) return false;
  try {
    return realpathSync(argv1) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return /cli\.(ts|js)$/.test(argv1);
  }
}

// Run when executed, not when imported.
if (isMain(process.argv[1])) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(`pulsing: ${(error as Error).name}: ${(error as Error).message}`);
      process.exit(1);
    },
  );
}
