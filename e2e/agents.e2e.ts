/**
 * Agents on the dashboard (issue 13): the seed hosts the Node side of the example pipeline (examples/pipeline-agents.ts:
 * researcher, writer, reviewer) against the local fake model server, as `npm start` does; each dashboard tab hosts
 * its own editor agent. The Agents panel of every tab lists every agent of the cluster (`listAgents()`: the seed's
 * and each tab's, with node and runtime), and so does `listAgents()` on Node; running the pipeline from a tab streams
 * the writer's draft into the panel token by token, and Stop cancels the stream up to the model request.
 */
import assert from "node:assert/strict";
import { listAgents } from "pulsing/agent";
import { pipelineReply, startFakeLlmServer, type FakeLlmServer } from "../examples/fake-llm-server.js";
import { PIPELINE, editorName, hostPipelineAgents } from "../examples/pipeline-agents.js";
import { eventually } from "../test/helpers.js";
import { test as cluster } from "./fixtures.js";

const TOKEN_DELAY_MS = 40;

const test = cluster.extend<{}, { fake: FakeLlmServer }>({
  /** The fake model server, and the pipeline's Node agents on the seed pointed at it (what `npm start` runs). */
  fake: [
    async ({ seed }, use) => {
      const fake = await startFakeLlmServer({ tokenDelayMs: TOKEN_DELAY_MS, reply: pipelineReply });
      await hostPipelineAgents(seed.system, { baseURL: fake.baseURL, model: "fake-model", maxRetries: 0 });
      await use(fake);
      await fake.close();
    },
    { scope: "worker", timeout: 30_000 },
  ],
});

test.use({ tabCount: 2 });

const shortId = (nodeId: string) => nodeId.slice(-6);

/** The Agents panel's rows: name → "nodeId|runtime|role". */
async function panelRows(page: import("playwright-core").Page): Promise<Record<string, string>> {
  const rows = await page.$$eval("#agents tr[data-agent-name]", (trs) =>
    trs.map((tr) => [tr.getAttribute("data-agent-name")!, `${tr.getAttribute("data-node-id")}|${tr.getAttribute("data-runtime")}|${tr.getAttribute("data-role")}`] as const),
  );
  return Object.fromEntries(rows);
}

test.describe("agents on the dashboard", () => {
  test.describe.configure({ mode: "serial" });

  test("every tab's Agents panel lists the seed's agents and each tab's editor; listAgents() on Node too", async ({ seed, tabs, fake }) => {
    assert.ok(fake.baseURL.startsWith("http://127.0.0.1:"));
    const expected: Record<string, string> = {
      [PIPELINE.researcher]: `${seed.system.nodeId}|node|Researcher`,
      [PIPELINE.writer]: `${seed.system.nodeId}|node|Writer`,
      [PIPELINE.reviewer]: `${seed.system.nodeId}|node|Reviewer`,
    };
    for (const tab of tabs) expected[editorName(shortId(tab.nodeId))] = `${tab.nodeId}|browser|Editor`;
    for (const tab of tabs) {
      await eventually(async () => assert.deepEqual(await panelRows(tab.page), expected, `the Agents panel of tab ${tab.nodeId}`), 30_000, 250);
      assert.equal(await tab.page.locator("#agents-no-pipeline").count(), 0);
    }
    const fromNode = await listAgents({ system: seed.system });
    assert.deepEqual(
      Object.fromEntries(Object.entries(fromNode).map(([name, info]) => [name, `${info.nodeId}|${info.role}|${info.className}`])),
      {
        [PIPELINE.researcher]: `${seed.system.nodeId}|Researcher|pipeline.Researcher`,
        [PIPELINE.writer]: `${seed.system.nodeId}|Writer|pipeline.Writer`,
        [PIPELINE.reviewer]: `${seed.system.nodeId}|Reviewer|pipeline.Reviewer`,
        ...Object.fromEntries(tabs.map((tab) => [editorName(shortId(tab.nodeId)), `${tab.nodeId}|Editor|pipeline.Editor`])),
      },
    );
    assert.equal(fromNode[PIPELINE.writer]!.goal, "Turn notes into a short article");
  });

  test("running the pipeline from a tab streams the draft into the panel token by token, then shows the review", async ({ seed, tabs, fake }) => {
    const page = tabs[0]!.page;
    const topic = "gossip in browser tabs";
    const before = fake.requests.length;
    await page.fill("#pipeline-topic", topic);
    await page.click("#pipeline-run");

    // While the writer streams: some tokens are in the panel, and more keep coming.
    const seen: number[] = [];
    await eventually(async () => {
      const state = await page.getAttribute("#pipeline-output", "data-state");
      const tokens = Number((await page.getAttribute("#pipeline-output", "data-tokens")) ?? "0");
      if (state === "streaming") seen.push(tokens);
      assert.ok(seen.filter((n) => n > 0).length >= 3 && new Set(seen).size >= 3, `streaming samples ${seen.join(", ")} (state ${state})`);
    }, 20_000, 50);

    await eventually(async () => assert.equal(await page.getAttribute("#pipeline-output", "data-state"), "done"), 30_000, 100);
    const tokens = Number(await page.getAttribute("#pipeline-output", "data-tokens"));
    assert.equal(await page.locator("#pipeline-output .token").count(), tokens);
    assert.ok(tokens > 20, `${tokens} tokens`);
    assert.ok(seen.some((n) => n > 0 && n < tokens), `the panel showed the draft before it was complete (samples ${seen.join(", ")}, ${tokens} in all)`);
    assert.match((await page.textContent("#pipeline-notes")) ?? "", /Gossip in browser tabs splits work/);
    const score = Number(await page.getAttribute("#pipeline-review", "data-score"));
    assert.ok(score >= 1 && score <= 10, `score ${score}`);
    // Each step ran on the seed; the model requests went from there (the tab called no model).
    const steps = await page.$$eval("#pipeline-steps li", (lis) => lis.map((li) => `${li.getAttribute("data-step")}@${li.getAttribute("data-node-id")}`));
    assert.deepEqual(steps, ["research", "write", "review"].map((s) => `${s}@${seed.system.nodeId}`));
    const requests = fake.requests.slice(before);
    assert.deepEqual(requests.map((r) => r.stream), [false, true, false]);
    assert.ok(requests.every((r) => r.finished));
    assert.equal(((await page.textContent("#pipeline-output")) ?? "").trim(), pipelineReply(requests[1]!).trim());
    assert.deepEqual(tabs[0]!.errors, []);
  });

  test("Stop cancels the stream: the draft stops growing and the writer's model request is closed", async ({ tabs, fake }) => {
    const page = tabs[1]!.page;
    const before = fake.requests.length;
    await page.click("#pipeline-run");
    await eventually(async () => {
      const tokens = Number((await page.getAttribute("#pipeline-output", "data-tokens")) ?? "0");
      assert.ok(tokens >= 5, `${tokens} tokens so far`);
    }, 20_000, 50);
    await page.click("#pipeline-stop");
    await eventually(async () => assert.equal(await page.getAttribute("#pipeline-output", "data-state"), "cancelled"), 5_000, 50);
    // The cancel reached the model server through the editor (tab) and the writer (seed).
    await eventually(() => {
      const draft = fake.requests.slice(before).find((r) => r.stream);
      assert.ok(draft !== undefined && draft.closedEarly && !draft.finished, JSON.stringify(draft && { tokensSent: draft.tokensSent, finished: draft.finished }));
    }, 10_000, 50);
    const stopped = Number(await page.getAttribute("#pipeline-output", "data-tokens"));
    await new Promise((resolve) => setTimeout(resolve, 10 * TOKEN_DELAY_MS));
    assert.equal(Number(await page.getAttribute("#pipeline-output", "data-tokens")), stopped, "no token arrived after Stop");
    assert.ok(stopped < 60, `${stopped} tokens`);
    assert.equal(fake.requests.slice(before).filter((r) => r.stream).length, 1);
    assert.equal(fake.requests.slice(before).length, 2, "no review after Stop");
    assert.equal(await page.isEnabled("#pipeline-run"), true);
    assert.equal(await page.isDisabled("#pipeline-stop"), true);
    assert.deepEqual(tabs[1]!.errors, []);
  });
});
