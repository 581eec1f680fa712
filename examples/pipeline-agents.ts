/**
 * The agents of the example pipeline, shared by `examples/agents-pipeline.ts` (two Node nodes in one process),
 * `npm start` (scripts/start.ts: the seed hosts the Node-side agents) and the dashboard (demo/panels/agents.ts: each
 * tab hosts an editor that runs the pipeline against the seed's agents). The same classes run in Node, Deno and tabs.
 *
 *   researcher  notes on a topic (one model call)
 *   writer      a draft from the notes, streamed token by token (an actor stream over the model's token stream)
 *   reviewer    a score and a verdict for the draft (the model answers in JSON; `extractField` reads it)
 *   editor      the orchestrator: asks the researcher, streams the writer's draft on to its own caller as it comes,
 *               asks the reviewer; it calls no model itself, so a tab can host it without reaching the model endpoint
 *
 * The classes are registered under explicit names (`agent(meta, { name })`): browser builds may minify class names.
 *
 * ```ts
 * import { hostPipelineAgents, Editor, PIPELINE } from "./examples/pipeline-agents.js";
 * await hostPipelineAgents(seed.system, { baseURL, model });     // researcher, writer, reviewer on the seed
 * const editor = await Editor.spawn({ name: "editor" });          // anywhere in the cluster, a tab included
 * for await (const event of editor.run("actors")) …               // notes, then tokens, then the review
 * ```
 */
import * as pul from "pulsing";
import { agent, extractField, llm, type LlmClient, type LlmOptions } from "pulsing/agent";

/** Where a pipeline host runs its agents. */
export const PIPELINE = {
  researcher: "pipeline/researcher",
  writer: "pipeline/writer",
  reviewer: "pipeline/reviewer",
} as const;

/** The name a dashboard tab gives its editor. */
export const editorName = (shortId: string): string => `tab/${shortId}/editor`;

/** Per step: how long the editor waits for an agent (a real model can be slow). */
const STEP_TIMEOUT_MS = 180_000;
const RESOLVE_TIMEOUT_MS = 5_000;

/**
 * The model client of an agent: `llm(options)` when the agent was spawned with options (made once, again after a
 * failure), else the process's default client (`OPENAI_BASE_URL`, `OPENAI_MODEL`, `OPENAI_API_KEY`).
 */
function modelClient(options: LlmOptions | undefined): () => Promise<LlmClient> {
  if (options === undefined || options === null) return () => llm();
  let client: Promise<LlmClient> | undefined;
  return () =>
    (client ??= llm(options).catch((error: unknown) => {
      client = undefined;
      throw error;
    }));
}

export const Researcher = agent(
  { role: "Researcher", goal: "Collect the key facts", backstory: "A careful reader.", stage: 1 },
  { name: "pipeline.Researcher" },
)(
  class Researcher {
    readonly #model: () => Promise<LlmClient>;
    constructor(llmOptions?: LlmOptions) {
      this.#model = modelClient(llmOptions);
    }
    /** Three short bullet points about `topic`. */
    async research(topic: string): Promise<string> {
      const signal = pul.currentContext().signal; // first thing: in a tab the context is valid until the first await
      return (await this.#model()).invoke(
        [
          { role: "system", content: "You are a researcher. Answer with three short bullet points." },
          { role: "user", content: `Key facts about: ${checkTopic(topic)}` },
        ],
        { signal },
      );
    }
  },
);
export type Researcher = InstanceType<typeof Researcher>;

export const Writer = agent({ role: "Writer", goal: "Turn notes into a short article", stage: 2 }, { name: "pipeline.Writer" })(
  class Writer {
    readonly #model: () => Promise<LlmClient>;
    constructor(llmOptions?: LlmOptions) {
      this.#model = modelClient(llmOptions);
    }
    /**
     * Streams a paragraph on `topic` from `notes`, the model's tokens as they come (a slow reader slows the model
     * request, a reader that stops closes it). Without notes it asks the researcher first (by name, on its node).
     */
    async *write(topic: string, notes?: string): AsyncGenerator<string> {
      const ctx = pul.currentContext(); // first thing: in a tab the context is valid until the first await
      const signal = ctx.signal;
      if (notes === undefined) {
        const researcher = (await ctx.actorRef(PIPELINE.researcher, { timeout: RESOLVE_TIMEOUT_MS })).asType(Researcher);
        notes = await researcher.withOptions({ signal, timeout: STEP_TIMEOUT_MS }).research(topic);
      }
      yield* (await this.#model()).stream(`Write one paragraph about ${checkTopic(topic)} from these notes:\n${notes}`, { signal });
    }
  },
);
export type Writer = InstanceType<typeof Writer>;

export interface Review {
  score: number;
  verdict: string;
}

export const Reviewer = agent({ role: "Reviewer", goal: "Score drafts", stage: 3 }, { name: "pipeline.Reviewer" })(
  class Reviewer {
    readonly #model: () => Promise<LlmClient>;
    constructor(llmOptions?: LlmOptions) {
      this.#model = modelClient(llmOptions);
    }
    async review(draft: string): Promise<Review> {
      const signal = pul.currentContext().signal;
      const answer = await (await this.#model()).invoke(`Review this draft. Respond in JSON with "score" (1-10) and "verdict":\n${draft}`, { signal });
      const score = Number(extractField(answer, "score", 0));
      return { score: Number.isFinite(score) ? score : 0, verdict: String(extractField(answer, "verdict", "unknown")) };
    }
  },
);
export type Reviewer = InstanceType<typeof Reviewer>;

/** What the editor streams to its caller, in this order: a step starts, its result (notes, tokens, the review). */
export type PipelineEvent =
  | { kind: "step"; step: "research" | "write" | "review"; agent: string; nodeId: string }
  | { kind: "notes"; text: string }
  | { kind: "token"; text: string }
  | { kind: "review"; score: number; verdict: string };

export const Editor = agent({ role: "Editor", goal: "Run the pipeline: research, write, review", stage: 0 }, { name: "pipeline.Editor" })(
  class Editor {
    /**
     * Runs the pipeline on `topic` with the agents named in `PIPELINE`, wherever they run. Cancelling the stream
     * cancels the step in flight (the writer's model request included).
     */
    async *run(topic: string): AsyncGenerator<PipelineEvent> {
      const ctx = pul.currentContext(); // first thing: in a tab the context is valid until the first await
      const signal = ctx.signal;
      const options = { signal, timeout: STEP_TIMEOUT_MS };
      const find = (name: string) => ctx.actorRef(name, { timeout: RESOLVE_TIMEOUT_MS });
      checkTopic(topic);

      const researcherRef = await find(PIPELINE.researcher);
      yield { kind: "step", step: "research", agent: PIPELINE.researcher, nodeId: researcherRef.actorId.nodeId };
      const notes = await researcherRef.asType(Researcher).withOptions(options).research(topic);
      yield { kind: "notes", text: notes };

      const writerRef = await find(PIPELINE.writer);
      yield { kind: "step", step: "write", agent: PIPELINE.writer, nodeId: writerRef.actorId.nodeId };
      let draft = "";
      for await (const token of writerRef.asType(Writer).withOptions(options).write(topic, notes)) {
        draft += token;
        yield { kind: "token", text: token };
      }
      signal.throwIfAborted();

      const reviewerRef = await find(PIPELINE.reviewer);
      yield { kind: "step", step: "review", agent: PIPELINE.reviewer, nodeId: reviewerRef.actorId.nodeId };
      const { score, verdict } = await reviewerRef.asType(Reviewer).withOptions(options).review(draft);
      yield { kind: "review", score, verdict };
    }
  },
);
export type Editor = InstanceType<typeof Editor>;

/** Starts the model-calling agents (researcher, writer, reviewer) on `system`, each with `llmOptions` if given. */
export async function hostPipelineAgents(system: pul.ActorSystem, llmOptions?: LlmOptions): Promise<Record<keyof typeof PIPELINE, pul.ActorRef>> {
  const args = llmOptions === undefined ? [] : [llmOptions];
  return {
    researcher: await system.spawn(Researcher, { name: PIPELINE.researcher, args }),
    writer: await system.spawn(Writer, { name: PIPELINE.writer, args }),
    reviewer: await system.spawn(Reviewer, { name: PIPELINE.reviewer, args }),
  };
}

function checkTopic(topic: unknown): string {
  if (typeof topic !== "string" || topic.trim() === "") throw new pul.PulsingBusinessError("bad_argument", "the topic must be a non-empty string");
  return topic.trim().slice(0, 500);
}
