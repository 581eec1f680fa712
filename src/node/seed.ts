import type { Server } from "node:http";
import * as pul from "../index.js";
import { MEMBERSHIP_OPTIONS } from "../cluster/membership.js";
import { RESOURCES_OPTIONS } from "../platform/processes.js";
import { boolean, bytes, checkOptions, integer, invalid, nested, string, stringArray, type OptionSchema } from "../util/options.js";
import { ClusterMetrics } from "./metrics.js";
import { serveStatic } from "./static-server.js";

export interface SeedOptions {
  /** Where the node listens: TCP on the port, WebSockets on port + 1. @default "0.0.0.0:8000" */
  addr?: string;
  passphrase?: string;
  /** Serve the dashboard (a directory of built files) over HTTP on this port; 0 picks one. */
  dashboard?: DashboardOptions;
  /** Other seeds to join. */
  seeds?: string[];
  membership?: pul.MembershipOptions;
  /** A stable identity (see `loadOrCreatePrivateKey`). */
  privateKey?: Uint8Array;
  /**
   * Run processes for other members, browser tabs included (as `init({ serveProcesses })`): any admitted member can
   * then run any command on this machine as this process's user. @default false
   */
  serveProcesses?: boolean;
  /** With `serveProcesses`: what this seed offers to processes (as `init({ resources })`). */
  resources?: pul.ProcessResources;
}

/** Where a seed serves the dashboard. */
export interface DashboardOptions {
  /** The directory of built dashboard files. */
  root: string;
  /** The HTTP port (0: a free one). */
  port: number;
  /** The interface to listen on. @default "0.0.0.0" */
  host?: string;
}

/** The checks of `SeedOptions`. */
export const SEED_OPTIONS = {
  addr: string,
  passphrase: string,
  dashboard: nested({ root: string, port: integer(0), host: string } satisfies OptionSchema<DashboardOptions>),
  seeds: stringArray,
  membership: nested(MEMBERSHIP_OPTIONS),
  privateKey: bytes,
  serveProcesses: boolean,
  resources: nested(RESOURCES_OPTIONS),
} satisfies OptionSchema<SeedOptions>;

/** Other seeds `/config.json` names besides the one serving it (a tab reserves relay slots on two). */
const OTHER_SEEDS_IN_CONFIG = 2;

export interface Seed {
  system: pul.ActorSystem;
  /** The dashboard's URL, when served. */
  url: string | undefined;
  /** The WebSocket multiaddrs browsers dial. */
  wsAddrs: string[];
  stop(): Promise<void>;
}

/**
 * A seed node: an actor system listening on TCP and WebSockets that relays for browser tabs, plus (optionally)
 * the dashboard over HTTP, whose `/config.json` tells a tab which addresses to dial: this seed's, then those of up
 * to two other live Node or Deno members (every listening one relays for tabs), so that a tab keeps a path into
 * the cluster while one of its seeds restarts. The same server answers `/metrics` (the cluster, in the Prometheus
 * text format: see metrics.ts).
 */
export async function startSeed(options: SeedOptions = {}): Promise<Seed> {
  checkOptions("startSeed()", options, SEED_OPTIONS);
  if (options.resources !== undefined && options.serveProcesses !== true) {
    throw invalid("startSeed(): 'resources' says what this seed offers to processes of others: it needs 'serveProcesses: true'");
  }
  const system = await pul.actorSystem({
    addr: options.addr ?? "0.0.0.0:8000",
    ...(options.seeds !== undefined ? { seeds: options.seeds } : {}),
    ...(options.passphrase !== undefined ? { passphrase: options.passphrase } : {}),
    ...(options.membership !== undefined ? { membership: options.membership } : {}),
    ...(options.privateKey !== undefined ? { privateKey: options.privateKey } : {}),
    ...(options.serveProcesses !== undefined ? { serveProcesses: options.serveProcesses } : {}),
    ...(options.resources !== undefined ? { resources: options.resources } : {}),
  });
  const wsAddrs = () => system.addrs.filter((a) => /\/ws(\/|$)/.test(a));
  let server: Server | undefined;
  let url: string | undefined;
  if (options.dashboard !== undefined) {
    const metrics = new ClusterMetrics(system);
    const served = await serveStatic({
      root: options.dashboard.root,
      host: options.dashboard.host ?? "0.0.0.0",
      port: options.dashboard.port,
      json: {
        "/config.json": () => ({
          seeds: [...wsAddrs(), ...otherSeeds(system)],
          nodeId: system.nodeId,
          protected: options.passphrase !== undefined,
        }),
      },
      text: { "/metrics": async () => ({ contentType: metrics.contentType, body: await metrics.render() }) },
    });
    server = served.server;
    url = served.url;
  }
  return {
    system,
    url,
    wsAddrs: wsAddrs(),
    stop: async () => {
      await new Promise<void>((done) => (server ? server.close(() => done()) : done()));
      server?.closeAllConnections();
      await system.shutdown();
    },
  };
}

/**
 * The WebSocket addresses (with their ids) of a few other live members that can serve tabs, picked at random for
 * each request: the tabs of a busy dashboard spread over the cluster's nodes rather than all landing on the same two.
 */
function otherSeeds(system: pul.ActorSystem): string[] {
  const candidates = system
    .members()
    .filter((m) => m.nodeId !== system.nodeId && m.status === "alive" && m.runtime !== "browser")
    .map((m) =>
      m.addrs
        .filter((a) => /\/ws(\/|$)/.test(a) && !a.includes("/p2p-circuit"))
        .map((a) => (a.includes("/p2p/") ? a : `${a}/p2p/${m.nodeId}`)),
    )
    .filter((addrs) => addrs.length > 0);
  const picked: string[][] = [];
  while (picked.length < OTHER_SEEDS_IN_CONFIG && candidates.length > 0) {
    picked.push(candidates.splice(Math.floor(Math.random() * candidates.length), 1)[0]!);
  }
  return picked.flat();
}
