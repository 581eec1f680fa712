/**
 * What a seed's dashboard tells a tab to dial (`/config.json`): this seed's WebSocket addresses first, then those of
 * other live Node members, so that a tab keeps a path into the cluster while one seed restarts
 * (e2e/seed-restart.e2e.ts checks the tabs' side).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { startSeed, type Seed } from "pulsing/node";
import { eventually } from "./helpers.js";

interface DashboardConfig {
  seeds: string[];
  nodeId: string;
}

const isWs = (addr: string): boolean => /\/ws(\/|$)/.test(addr);

describe("a seed's /config.json", () => {
  const root = mkdtempSync(join(tmpdir(), "pulsing-dashboard-"));
  const seeds: Seed[] = [];
  after(async () => {
    for (const seed of seeds) await seed.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it("lists this seed's WebSocket addresses, then the other seeds', each with its node id", async () => {
    const a = await startSeed({ addr: "127.0.0.1:0", dashboard: { root, port: 0, host: "127.0.0.1" } });
    seeds.push(a);
    const tcpOfA = a.system.addrs.find((addr) => !isWs(addr))!;
    const b = await startSeed({ addr: "127.0.0.1:0", seeds: [tcpOfA] });
    seeds.push(b);
    const config = async (): Promise<DashboardConfig> => (await fetch(new URL("/config.json", a.url))).json() as Promise<DashboardConfig>;

    await eventually(async () => {
      const { seeds: listed, nodeId } = await config();
      assert.equal(nodeId, a.system.nodeId);
      const own = a.system.addrs.filter(isWs);
      assert.deepEqual(listed.slice(0, own.length), own, `this seed first: ${JSON.stringify(listed)}`);
      const others = listed.slice(own.length);
      assert.ok(others.length > 0, `the other seed is listed: ${JSON.stringify(listed)}`);
      for (const addr of others) {
        assert.ok(isWs(addr) && addr.endsWith(`/p2p/${b.system.nodeId}`), `a WebSocket address of seed B: ${addr}`);
      }
    }, 10_000, 50);

    // A seed that left is no longer offered.
    await b.stop();
    seeds.pop();
    await eventually(async () => {
      const { seeds: listed } = await config();
      assert.ok(!listed.some((addr) => addr.includes(b.system.nodeId)), `seed B is gone: ${JSON.stringify(listed)}`);
    }, 10_000, 50);
  });
});
