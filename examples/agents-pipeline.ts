/**
 * A multi-agent pipeline on two nodes: a researcher and a reviewer on a worker node, a writer and an editor on the
 * seed. The editor asks the researcher for notes, streams the writer's draft on token by token as it comes (actor
 * streams end to end: a slow reader slows the model request, a reader that stops closes it), and the reviewer
 * scores the draft as JSON. The agent classes are in examples/pipeline-agents.ts, which `npm start` and the
 * dashboard use too (there the editor runs in a browser tab and the other three on the seed).
 *
 *   node --conditions=pulsing-source --import tsx examples/agents-pipeline.ts ["a topic"]
 *
 * Against a real OpenAI-compatible endpoint: set OPENAI_BASE_URL, OPENAI_MODEL (and OPENAI_API_KEY). Without
 * OPENAI_BASE_URL it starts the fake model server of examples/fake-llm-server.ts on a free local port.
 */
import * as pul from "pulsing";
import { listAgents, runtime } from "pulsing/agent";
import { pipelineReply, startFakeLlmServer } from "./fake-llm-server.js";
import { Editor, PIPELINE, Researcher, Reviewer, Writer } from "./pipeline-agents.js";

const topic = process.argv[2] ?? "actor runtimes in the browser";

// No endpoint configured: a local fake one, so the example runs anywhere.
const fake = process.env.OPENAI_BASE_URL ? undefined : await startFakeLlmServer({ tokenDelayMs: 15, reply: pipelineReply });
if (fake !== undefined) {
  process.env.OPENAI_BASE_URL = fake.baseURL;
  process.env.OPENAI_MODEL ??= "fake-model";
  console.log(`(no OPENAI_BASE_URL: using the fake model server at ${fake.baseURL})`);
}

try {
  // The seed is the global system; the worker is a second node in this process (another process works the same).
  await using seed = await runtime({ addr: "127.0.0.1:0" });
  await using worker = await pul.actorSystem({ addr: "127.0.0.1:0", seeds: [seed.addrs[0]!] });

  await Researcher.spawn({ name: PIPELINE.researcher, node: worker.nodeId });
  await Reviewer.spawn({ name: PIPELINE.reviewer, node: worker.nodeId });
  await Writer.spawn({ name: PIPELINE.writer });
  const editor = await Editor.spawn({ name: "editor" });

  console.log("agents:");
  for (const [name, info] of Object.entries(await listAgents())) {
    console.log(`  ${name.padEnd(20)} ${info.role.padEnd(11)} on ${info.nodeId === seed.nodeId ? "seed  " : "worker"}  ${info.goal}`);
  }

  const where = (nodeId: string) => (nodeId === seed.nodeId ? "seed" : "worker");
  for await (const event of editor.run(topic)) {
    switch (event.kind) {
      case "step":
        console.log(`${event.step === "review" ? "\n" : ""}\n[${event.step}: ${event.agent} on the ${where(event.nodeId)}]`);
        if (event.step === "write") console.log(`draft on "${topic}":`);
        break;
      case "notes":
        console.log(event.text);
        break;
      case "token":
        process.stdout.write(event.text);
        break;
      case "review":
        console.log(`score ${event.score}, ${event.verdict}`);
        break;
    }
  }
} finally {
  await fake?.close();
}
