/**
 * The agent toolkit (`pulsing/agent`) through its public entry, against a real local HTTP server speaking the
 * OpenAI chat-completions protocol (examples/fake-llm-server.ts: plain JSON and server-sent streaming): invoke and
 * stream, a token stream from an agent on another node, cancellation reaching the server, configuration from the
 * environment, typed errors, agent metadata across nodes, and `runtime()` as an `await using` scope.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as pul from "pulsing";
import {
  agent,
  cleanup,
  clearAgentRegistry,
  extractField,
  getAgentMeta,
  listAgents,
  llm,
  LlmError,
  parseJson,
  resetLlm,
  runtime,
} from "pulsing/agent";
import { startFakeLlmServer, type FakeLlmServer } from "../examples/fake-llm-server.js";
import { tcpAddr } from "./cluster/harness.js";
import { eventually, hasCode } from "./helpers.js";

const ENV = ["OPENAI_BASE_URL", "OPENAI_API_KEY", "OPENAI_MODEL"] as const;
const savedEnv = Object.fromEntries(ENV.map((name) => [name, process.env[name]]));
const clearEnv = (): void => {
  for (const name of ENV) delete process.env[name];
};

/** 300 words: long enough that a stream is still going when the test cancels it. */
const LONG_REPLY = Array.from({ length: 300 }, (_, i) => `word${i}`).join(" ");

let server: FakeLlmServer;
/** Streams slowly (a token every 10 ms), so cancellations land mid-reply. */
let slow: FakeLlmServer;
/** Sends its first token at once and the next after 5 s: a cancellation lands while the agent awaits the upstream. */
let stalled: FakeLlmServer;

before(async () => {
  clearEnv();
  server = await startFakeLlmServer();
  slow = await startFakeLlmServer({ tokenDelayMs: 10, reply: () => LONG_REPLY });
  stalled = await startFakeLlmServer({ tokenDelayMs: (index) => (index === 0 ? 0 : 5_000) });
});

after(async () => {
  cleanup();
  await pul.shutdown();
  await Promise.all([server.close(), slow.close(), stalled.close()]);
  for (const name of ENV) if (savedEnv[name] === undefined) delete process.env[name];
  else process.env[name] = savedEnv[name];
});

describe("parseJson and extractField", () => {
  it("read plain JSON, fenced blocks, and fall back on anything else", () => {
    assert.deepEqual(parseJson('{"name": "test"}'), { name: "test" });
    assert.deepEqual(parseJson('  [1, 2, 3]\n'), [1, 2, 3]);
    assert.deepEqual(parseJson('```json\n{"a": 1}\n```', {}), { a: 1 });
    assert.deepEqual(parseJson('```JSON\n{"a": 2}\n```'), { a: 2 });
    assert.deepEqual(parseJson('```\n{"a": 3}\n```'), { a: 3 });
    assert.deepEqual(parseJson('Here you go:\n```json\n{"a": 4}\n```\nAnything else?'), { a: 4 });
    assert.deepEqual(parseJson('```json {"a": 5}```'), { a: 5 });
    assert.deepEqual(parseJson("invalid", {}), {});
    assert.deepEqual(parseJson("```json\nnot json\n```", { none: true }), { none: true });
    assert.equal(parseJson("", "empty"), "empty");
    assert.equal(parseJson(null, "null"), "null");
    assert.equal(parseJson(undefined), undefined);
  });

  it("extractField takes one field of the object, else the fallback", () => {
    assert.equal(extractField('{"score": 8, "reason": "good"}', "score", 0), 8);
    assert.equal(extractField('```json\n{"verdict": "approve"}\n```', "verdict"), "approve");
    assert.equal(extractField('{"score": null}', "score", 0), null, "a present null is the value");
    assert.equal(extractField('{"score": 8}', "missing", "fb"), "fb");
    assert.equal(extractField("[1, 2]", "0", "fb"), "fb", "an array is not an object with fields");
    assert.equal(extractField("garbage", "score", 0), 0);
    assert.equal(extractField('{"a": 1}', "toString", "fb"), "fb", "inherited names are not fields");
  });
});

describe("llm()", () => {
  it("invokes with a prompt and with messages, passing options through", async () => {
    const client = await llm({ baseURL: server.baseURL, model: "fake-model", apiKey: "k1", system: "Be brief.", temperature: 0.5, maxTokens: 64 });
    assert.equal(client.model, "fake-model");
    const before = server.requests.length;
    const reply = await client.invoke("What is an actor?");
    assert.match(reply, /What is an actor\?/);
    const request = server.requests[before]!;
    assert.equal(request.stream, false);
    assert.deepEqual(request.messages, [
      { role: "system", content: "Be brief." },
      { role: "user", content: "What is an actor?" },
    ]);
    assert.equal(request.body.temperature, 0.5);
    assert.equal(request.body.max_tokens, 64);
    assert.equal(request.headers.authorization, "Bearer k1");

    const conversation = [
      { role: "user", content: "Hello" },
      { role: "assistant", content: "Hi." },
      { role: "user", content: "Reply in JSON please" },
    ] as const;
    const json = await client.invoke(conversation, { temperature: 0 });
    assert.equal(typeof extractField(json, "score"), "number", `a JSON verdict, got ${json}`);
    const second = server.requests.at(-1)!;
    assert.deepEqual(second.messages.slice(1), conversation);
    assert.equal(second.body.temperature, 0, "a call's option overrides the client's");
  });

  it("streams tokens as they come", async () => {
    const client = await llm({ baseURL: server.baseURL, model: "fake-model" });
    const whole = await client.invoke("Stream me");
    const tokens: string[] = [];
    for await (const token of client.stream("Stream me")) tokens.push(token);
    assert.ok(tokens.length > 5, `several tokens, got ${tokens.length}`);
    assert.equal(tokens.join(""), whole);
    const request = server.requests.at(-1)!;
    assert.ok(request.stream && request.finished && !request.closedEarly, "a streamed request, read to its end");
  });

  it("breaking out of a token stream closes the HTTP request", async () => {
    const client = await llm({ baseURL: slow.baseURL, model: "fake-model" });
    const before = slow.requests.length;
    const got: string[] = [];
    for await (const token of client.stream("long story")) {
      got.push(token);
      if (got.length === 3) break;
    }
    await eventually(() => assert.ok(slow.requests[before]?.closedEarly, "the server saw the request closed"), 3_000);
    const request = slow.requests[before]!;
    assert.ok(request.tokensSent < 100, `the server stopped early: ${request.tokensSent} of 300 tokens sent`);
    assert.equal(request.finished, false);
  });

  it("an aborted signal ends the stream with its reason and closes the request", async () => {
    const client = await llm({ baseURL: slow.baseURL, model: "fake-model" });
    const before = slow.requests.length;
    const controller = new AbortController();
    const reason = new Error("enough");
    await assert.rejects(
      (async () => {
        let n = 0;
        for await (const _ of client.stream("long story", { signal: controller.signal })) if (++n === 2) controller.abort(reason);
      })(),
      (error: unknown) => error === reason,
    );
    await eventually(() => assert.ok(slow.requests[before]?.closedEarly, "the server saw the request closed"), 3_000);
  });

  it("reads OPENAI_BASE_URL, OPENAI_API_KEY and OPENAI_MODEL; the default client is made once, until resetLlm()", async () => {
    try {
      process.env.OPENAI_BASE_URL = server.baseURL;
      process.env.OPENAI_API_KEY = "env-key";
      process.env.OPENAI_MODEL = "env-model";
      resetLlm();
      const first = await llm();
      assert.equal(first.baseURL, server.baseURL);
      assert.equal(first.model, "env-model");
      assert.equal(await llm(), first, "the default client is shared");
      await first.invoke("hi");
      const request = server.requests.at(-1)!;
      assert.equal(request.model, "env-model");
      assert.equal(request.headers.authorization, "Bearer env-key");

      process.env.OPENAI_MODEL = "other-model";
      assert.equal((await llm()).model, "env-model", "kept until resetLlm()");
      resetLlm();
      const second = await llm();
      assert.notEqual(second, first);
      assert.equal(second.model, "other-model");
      // Options override the environment, and make a client of their own.
      const own = await llm({ model: "own-model" });
      assert.equal(own.model, "own-model");
      assert.equal(own.baseURL, server.baseURL);
      assert.equal(await llm(), second);
      cleanup();
      assert.notEqual(await llm(), second, "cleanup() resets the default client too");
    } finally {
      clearEnv();
      resetLlm();
    }
  });

  it("refuses a missing endpoint or model, and bad options, with INVALID_OPTION naming them", async () => {
    clearEnv();
    resetLlm();
    await assert.rejects(llm(), hasCode("INVALID_OPTION", /baseURL.*OPENAI_BASE_URL/));
    await assert.rejects(llm({ baseURL: server.baseURL }), hasCode("INVALID_OPTION", /model.*OPENAI_MODEL/));
    process.env.OPENAI_BASE_URL = "not a url";
    try {
      await assert.rejects(llm({ model: "m" }), hasCode("INVALID_OPTION", /OPENAI_BASE_URL/));
    } finally {
      clearEnv();
    }
    await assert.rejects(llm({ baseURL: "ftp://example.com", model: "m" }), hasCode("INVALID_OPTION", /baseURL/));
    await assert.rejects(llm({ baseURL: server.baseURL, model: "m", temperature: 5 }), hasCode("INVALID_OPTION", /temperature/));
    await assert.rejects(llm({ baseURL: server.baseURL, model: "m", modle: "x" } as never), hasCode("INVALID_OPTION", /did you mean 'model'/));
    const client = await llm({ baseURL: server.baseURL, model: "m" });
    await assert.rejects(client.invoke([]), hasCode("INVALID_ARGUMENT"));
    await assert.rejects(client.invoke([{ role: "bot", content: "x" }] as never), hasCode("INVALID_ARGUMENT", /message 0/));
    await assert.rejects(client.invoke(42 as never), hasCode("INVALID_ARGUMENT"));
    assert.throws(() => client.stream("x", { maxTokens: 0 }), hasCode("INVALID_OPTION", /maxTokens/));
  });

  it("an HTTP error from the endpoint is an LlmError (UPSTREAM_FAILED) carrying the status; a slow one a timeout", async () => {
    const unauthorized = await llm({ baseURL: server.baseURL, model: "http-401" });
    const error401 = await unauthorized.invoke("hi").then(
      () => assert.fail("expected a failure"),
      (error: unknown) => error,
    );
    assert.ok(error401 instanceof LlmError && error401 instanceof pul.PulsingRuntimeError, `an LlmError, got ${String(error401)}`);
    assert.equal(error401.code, pul.ErrorCode.UPSTREAM_FAILED);
    assert.equal(error401.status, 401);

    const unavailable = await llm({ baseURL: server.baseURL, model: "http-503", maxRetries: 0 });
    await assert.rejects(
      (async () => {
        for await (const _ of unavailable.stream("hi"));
      })(),
      (error: unknown) => error instanceof LlmError && error.status === 503 && error.code === "UPSTREAM_FAILED",
    );

    const stalling = await llm({ baseURL: server.baseURL, model: "stall", timeout: 300, maxRetries: 0 });
    const before = server.requests.length;
    await assert.rejects(stalling.invoke("hi"), (error: unknown) => error instanceof pul.PulsingTimeoutError && error.code === "TIMEOUT");
    await eventually(() => assert.ok(server.requests[before]?.closedEarly, "the timed-out request was closed"), 3_000);

    const closed = await startFakeLlmServer();
    await closed.close();
    const unreachable = await llm({ baseURL: closed.baseURL, model: "m", maxRetries: 0 });
    await assert.rejects(unreachable.invoke("hi"), (error: unknown) => error instanceof LlmError && error.status === undefined && error.code === "UPSTREAM_FAILED");
  });
});

// --- agents ------------------------------------------------------------------------------------------------------

const Researcher = agent({ role: "Researcher", goal: "Deep analysis", backstory: "Reads everything.", team: "a", level: 3 })(
  class Researcher {
    readonly #baseURL: string;
    constructor(baseURL: string) {
      this.#baseURL = baseURL;
    }
    async analyze(topic: string, model = "fake-model"): Promise<string> {
      return (await llm({ baseURL: this.#baseURL, model, maxRetries: 0 })).invoke(`Analyze: ${topic}`);
    }
    async *analyzeStream(topic: string): AsyncGenerator<string> {
      yield* (await llm({ baseURL: this.#baseURL, model: "fake-model" })).stream(`Analyze: ${topic}`);
    }
  },
);

// The decorator form, with remote() options.
@agent({ role: "Reviewer", goal: "Catch mistakes" }, { name: "test.Reviewer", concurrency: 1 })
class Reviewer {
  review(text: string): string {
    return text.length > 3 ? "approve" : "revise";
  }
}

const Plain = pul.remote(
  class PlainActor {
    hello(): string {
      return "hi";
    }
  },
);

describe("runtime()", () => {
  it("runtime() is an await-using scope around the global system", async () => {
    let seen: pul.ActorSystem | undefined;
    {
      await using rt = await runtime();
      seen = rt;
      assert.ok(pul.isInitialized(), "initialized inside the scope");
      assert.equal(pul.getSystem(), rt);
      const reviewer = await pul.spawn(Reviewer, { name: "scoped-reviewer" });
      assert.equal(await reviewer.review("fine text"), "approve");
    }
    assert.equal(pul.isInitialized(), false, "shut down at the end of the scope");
    assert.equal(seen.isRunning, false);
    await assert.rejects(runtime({ addr: 42 } as never), hasCode("INVALID_OPTION"));
  });
});

describe("agents", () => {
  let a: pul.ActorSystem; // the global system (this node)
  let b: pul.ActorSystem; // another node in this process

  before(async () => {
    a = await runtime({ addr: "127.0.0.1:0" });
    b = await pul.actorSystem({ addr: "127.0.0.1:0", seeds: [tcpAddr(a)] });
    await eventually(() => assert.equal(a.members().filter((m) => m.status === "alive").length, 2, "a sees b"), 10_000);
  });

  after(async () => {
    await b?.shutdown();
    await pul.shutdown();
  });

  it("agent() is remote() plus metadata: getAgentMeta(name) after Cls.spawn", async () => {
    clearAgentRegistry();
    const researcher = await Researcher.spawn({ name: "researcher", args: [server.baseURL] });
    assert.match(await researcher.analyze("actors"), /Analyze: actors/);
    assert.deepEqual(getAgentMeta("researcher"), { role: "Researcher", goal: "Deep analysis", backstory: "Reads everything.", tags: { team: "a", level: 3 } });
    assert.equal(getAgentMeta("nobody"), undefined);
    await Researcher.spawn({ name: "researcher-b", args: [server.baseURL], node: b.nodeId });
    assert.equal(getAgentMeta("researcher-b")?.role, "Researcher", "a remote spawn is recorded too");
    clearAgentRegistry();
    assert.equal(getAgentMeta("researcher"), undefined, "cleared");
  });

  it("listAgents() lists the running agents of every node, from any node", async () => {
    await b.spawn(Reviewer, { name: "reviewer-on-b" }); // not through Cls.spawn: found all the same
    await Plain.spawn({ name: "not-an-agent" });
    for (const from of [a, b]) {
      const agents = await listAgents({ system: from });
      assert.deepEqual(Object.keys(agents).sort(), ["researcher", "researcher-b", "reviewer-on-b"], `seen from ${from === a ? "a" : "b"}`);
      assert.equal(agents.researcher!.nodeId, a.nodeId);
      assert.equal(agents["researcher-b"]!.nodeId, b.nodeId);
      assert.deepEqual(agents["researcher-b"]!.tags, { team: "a", level: 3 });
      assert.equal(agents["reviewer-on-b"]!.role, "Reviewer");
      assert.equal(agents["reviewer-on-b"]!.className, "test.Reviewer");
      assert.match(agents["reviewer-on-b"]!.actorId, new RegExp(`^${b.nodeId}:`));
    }
    assert.deepEqual(Object.keys(await listAgents()).sort(), ["researcher", "researcher-b", "reviewer-on-b"], "the global system by default");
    await b.stop("reviewer-on-b");
    assert.equal((await listAgents())["reviewer-on-b"], undefined, "a stopped agent is gone");
    await assert.rejects(listAgents({ timeout: -1 }), hasCode("INVALID_OPTION"));
    await assert.rejects(listAgents({ system: {} as never }), hasCode("INVALID_OPTION"));
  });

  it("an agent's token stream from another node arrives whole; cancelling it closes the upstream request", async () => {
    const remote = await pul.resolve("researcher-b", { cls: Researcher, timeout: 5_000 });
    const direct = await (await llm({ baseURL: server.baseURL, model: "fake-model" })).invoke("Analyze: streams");
    const tokens: string[] = [];
    for await (const token of remote.analyzeStream("streams")) tokens.push(token);
    assert.equal(tokens.join(""), direct);

    const slowAgent = await Researcher.spawn({ name: "slow-researcher", args: [slow.baseURL], node: b.nodeId });
    const before = slow.requests.length;
    const stream = slowAgent.analyzeStream("a long topic");
    const got: string[] = [];
    for await (const token of stream) {
      got.push(token);
      if (got.length === 3) break; // cancels the actor stream: the agent's generator returns, the request closes
    }
    await eventually(() => assert.ok(slow.requests[before]?.closedEarly, "the fake server saw the request closed"), 5_000);
    assert.ok(slow.requests[before]!.tokensSent < 150, `stopped early: ${slow.requests[before]!.tokensSent} of 300 tokens sent`);
  });

  it("cancelling a remote token stream closes the request at once, even while the agent awaits the next token", async () => {
    const stalledAgent = await Researcher.spawn({ name: "stalled-researcher", args: [stalled.baseURL], node: b.nodeId });
    const before = stalled.requests.length;
    const started = Date.now();
    for await (const _ of stalledAgent.analyzeStream("anything")) break; // the second token is 5 s away
    // The cancel aborts the agent call's signal, which the client follows: no waiting for the next token.
    await eventually(() => assert.ok(stalled.requests[before]?.closedEarly, "the fake server saw the request closed"), 2_000);
    assert.ok(Date.now() - started < 3_000, `closed within ${Date.now() - started} ms`);
    assert.equal(stalled.requests[before]!.tokensSent, 1);
  });

  it("an upstream error inside a remote agent reaches the caller with its code and status", async () => {
    const remote = await pul.resolve("researcher-b", { cls: Researcher, timeout: 5_000 });
    const error = await remote.analyze("x", "http-404").then(
      () => assert.fail("expected a failure"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof pul.PulsingRuntimeError, `a PulsingRuntimeError, got ${String(error)}`);
    assert.equal(error.code, pul.ErrorCode.UPSTREAM_FAILED);
    assert.equal((error.cause as { status?: unknown } | undefined)?.status, 404);
  });

  it("agent() refuses bad descriptions", () => {
    assert.throws(() => agent({ role: 5 as never }), hasCode("INVALID_OPTION", /role/));
    assert.throws(() => agent({ role: "r", callback: () => 1 }), hasCode("INVALID_OPTION", /callback/));
    assert.throws(() => agent({ role: "r", when: new Date() }), hasCode("INVALID_OPTION", /when/));
    assert.throws(() => agent(null as never), hasCode("INVALID_OPTION"));
    assert.throws(() => agent({ role: "r" })(42 as never), hasCode("INVALID_ARGUMENT"));
    assert.throws(() => agent({ role: "r" }, { restartPolicy: "sometimes" as never }), hasCode("INVALID_OPTION"));
  });
});
