/**
 * The agent toolkit, `pulsing/agent`: agents as described actors, a chat client for OpenAI-compatible endpoints
 * whose token streams are actor streams, and helpers for model output. Isomorphic: Node, Deno and browser tabs.
 *
 * ```ts
 * import { agent, runtime, llm } from "pulsing/agent";
 * const Writer = agent({ role: "Writer", goal: "Clear prose" })(class Writer {
 *   async *draft(topic: string) { yield* (await llm()).stream(`Write about ${topic}`); }
 * });
 * await using rt = await runtime();
 * const writer = await Writer.spawn({ name: "writer" });
 * for await (const token of writer.draft("actors")) process.stdout.write(token);
 * ```
 *
 * @packageDocumentation
 */
import "../util/polyfills.js";
import { clearAgentRegistry } from "./meta.js";
import { resetLlm } from "./llm.js";

export { agent, getAgentMeta, clearAgentRegistry } from "./meta.js";
export type { AgentMeta, AgentOptions } from "./meta.js";
export { listAgents, AGENT_DIRECTORY_NAME } from "./directory.js";
export type { AgentInfo, ListAgentsOptions } from "./directory.js";
export { runtime } from "./runtime.js";
export { llm, resetLlm, LlmError } from "./llm.js";
export type { LlmClient, LlmOptions, LlmCallOptions, LlmInput, ChatMessage } from "./llm.js";
export { parseJson, extractField } from "./json.js";

/** Forgets this process's agent registry and default LLM client (`clearAgentRegistry()` and `resetLlm()`). */
export function cleanup(): void {
  clearAgentRegistry();
  resetLlm();
}
