/**
 * A multi-agent pipeline on two nodes: a researcher and a reviewer on a worker node, a writer on the seed.
 * The writer asks the researcher for notes, streams its draft token by token to the caller (an actor stream: a
 * slow reader slows the model request, a reader that stops closes it), and the reviewer scores the draft as JSON.
 *
 *   node --conditions=pulsing-source --import tsx examples/agents-pipeline.ts ["a topic"]
 *
 * Against a real OpenAI-compatible endpoint: set OPENAI_BASE_URL, OPENAI_MODEL (and OPENAI_API_KEY). Without
 * OPENAI_BASE_URL it starts the fake model server of examples/fake-llm-server.ts on a free local port.
 */
import * as pul from "pulsing";
import { agent, extractField, listAgents, llm, runtime } from "pulsing/agent";
import { startFakeLlmServer } from "./fake-llm-server.js";

const Researcher = agent({ role: "Researcher", goal: "Collect the key facts", backstory: "A careful reader.", stage: 1 })(
  class Researcher {
    async research(topic: string): Promise<string> {
      return (await llm()).invoke([
        { role: "system", content: "You are a researcher. Answer with three short bullet points." },
        { role: "user", content: `Key facts about: ${topic}` },
      ]);
    }
  },
);

const Writer = agent({ role: "Writer", goal: "Turn notes into a short article", stage: 2 })(
  class Writer {
    /** Streams the draft: the researcher's notes first (asked on its node), then the model's tokens. */
    async *write(topic: string): AsyncGenerator<string> {
      const ctx = pul.currentContext(); // first thing: in a tab the context is valid until the first await
      const researcher = (await ctx.actorRef("researcher", { timeout: 5_000 })).asType(Researcher);
      const notes = await researcher.research(topic);
      yield* (await llm()).stream(`Write one paragraph about ${topic} from these notes:\n${notes}`);
    }
  },
);

const Reviewer = agent({ role: "Reviewer", goal: "Score drafts", stage: 3 })(
  class Reviewer {
    async review(draft: string): Promise<{ score: number; verdict: string }> {
      const answer = await (await llm()).invoke(`Review this draft. Respond in JSON with "score" (1-10) and "verdict":\n${draft}`);
      return { score: extractField(answer, "score", 0), verdict: extractField(answer, "verdict", "unknown") };
    }
  },
);

const topic = process.argv[2] ?? "actor runtimes in the browser";

// No endpoint configured: a local fake one, so the example runs anywhere.
const fake = process.env.OPENAI_BASE_URL ? undefined : await startFakeLlmServer({ tokenDelayMs: 15 });
if (fake !== undefined) {
  process.env.OPENAI_BASE_URL = fake.baseURL;
  process.env.OPENAI_MODEL ??= "fake-model";
  console.log(`(no OPENAI_BASE_URL: using the fake model server at ${fake.baseURL})`);
}

try {
  // The seed is the global system; the worker is a second node in this process (another process works the same).
  await using seed = await runtime({ addr: "127.0.0.1:0" });
  await using worker = await pul.actorSystem({ addr: "127.0.0.1:0", seeds: [seed.addrs[0]!] });

  await Researcher.spawn({ name: "researcher", node: worker.nodeId });
  await Reviewer.spawn({ name: "reviewer", node: worker.nodeId });
  const writer = await Writer.spawn({ name: "writer" });

  console.log("agents:");
  for (const [name, info] of Object.entries(await listAgents())) {
    console.log(`  ${name.padEnd(11)} ${info.role.padEnd(11)} on ${info.nodeId === seed.nodeId ? "seed  " : "worker"}  ${info.goal}`);
  }

  console.log(`\ndraft on "${topic}":`);
  let draft = "";
  for await (const token of writer.write(topic)) {
    process.stdout.write(token);
    draft += token;
  }
  console.log("\n");

  const reviewer = await pul.resolve("reviewer", { cls: Reviewer, timeout: 5_000 });
  const { score, verdict } = await reviewer.review(draft);
  console.log(`review: score ${score}, ${verdict}`);
} finally {
  await fake?.close();
}
