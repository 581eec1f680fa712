/**
 * A small fake model server speaking the OpenAI chat-completions protocol (`POST /v1/chat/completions`, plain JSON
 * and server-sent streaming): what the agents example runs against when no real endpoint is configured, and what
 * the agent toolkit's tests check the client against over real HTTP. Node only.
 *
 * ```ts
 * const server = await startFakeLlmServer({ tokenDelayMs: 20 });
 * const client = await llm({ baseURL: server.baseURL, model: "fake-model" });
 * await server.close();
 * ```
 *
 * Conventions: the model `http-<status>` (e.g. `http-503`) answers with that HTTP status and an OpenAI-style error
 * body; the model `stall` never answers. The reply is `reply(request)` when given, else a deterministic one (a
 * fenced JSON verdict when the last user message asks for JSON, an answer that quotes the prompt otherwise). A
 * streamed reply goes out one token (word) at a time, honouring the socket's backpressure, and stops when the
 * client closes the request.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeChatMessage {
  role: string;
  content: string;
}

/** One request the server took, as it goes. */
export interface FakeLlmRequest {
  readonly model: string;
  readonly messages: FakeChatMessage[];
  readonly stream: boolean;
  /** The request's whole JSON body. */
  readonly body: Record<string, unknown>;
  /** Headers as received (lower-case names). */
  readonly headers: Record<string, string | string[] | undefined>;
  /** Tokens sent so far (streamed replies). */
  tokensSent: number;
  /** The whole reply went out. */
  finished: boolean;
  /** The client closed the request before the reply was complete. */
  closedEarly: boolean;
}

export interface FakeLlmServerOptions {
  /** @default 0 (a free port) */
  port?: number;
  /** @default "127.0.0.1" */
  host?: string;
  /** Pause before each streamed token, in ms (or per token index). @default 0 */
  tokenDelayMs?: number | ((index: number) => number);
  /** The reply to a request. @default a deterministic one (see the module comment) */
  reply?: (request: FakeLlmRequest) => string;
}

export interface FakeLlmServer {
  /** `http://host:port/v1`: what a client takes as its base URL. */
  readonly baseURL: string;
  /** Every request so far, oldest first. */
  readonly requests: FakeLlmRequest[];
  close(): Promise<void>;
}

export async function startFakeLlmServer(options: FakeLlmServerOptions = {}): Promise<FakeLlmServer> {
  const requests: FakeLlmRequest[] = [];
  const server = createServer((req, res) => {
    handle(req, res, requests, options).catch((error: unknown) => {
      if (!res.headersSent) sendError(res, 500, `fake server failure: ${String(error)}`);
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  return {
    baseURL: `http://${address}:${port}/v1`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A reply that depends only on the request: the same prompt always gets the same answer. */
export function defaultReply(request: FakeLlmRequest): string {
  const last = [...request.messages].reverse().find((m) => m.role === "user")?.content ?? "";
  if (/\bjson\b/i.test(last)) {
    const score = 6 + (last.length % 4);
    return '```json\n' + JSON.stringify({ score, verdict: score >= 7 ? "approve" : "revise", comments: "Clear structure; cite one more source." }) + "\n```";
  }
  const subject = last.replace(/\s+/g, " ").trim().slice(0, 120);
  return `Considering "${subject}": the key points are scope, evidence and a clear conclusion. ` +
    "Each step builds on the one before, and the result is short enough to review.";
}

/**
 * A reply shaped for the example pipeline (examples/pipeline-agents.ts), still deterministic: three bullet points to
 * "Key facts about: <topic>", a paragraph of about eighty words to "Write one paragraph about <topic> …", and
 * `defaultReply` to anything else (a JSON verdict when asked for JSON). What `npm start` and the example serve.
 */
export function pipelineReply(request: FakeLlmRequest): string {
  const last = [...request.messages].reverse().find((m) => m.role === "user")?.content ?? "";
  const facts = /^Key facts about:\s*(.+)$/is.exec(last.trim());
  if (facts !== null) {
    const topic = oneLine(facts[1]!);
    return `- ${capitalize(topic)} splits work into small units that own their state.\n` +
      `- The units talk only through messages, so they can run on any node of a cluster.\n` +
      `- Failures stay local: a supervisor restarts what broke, the rest keeps going.`;
  }
  const write = /^Write one paragraph about\s+(.+?)\s+from these notes:/is.exec(last.trim());
  if (write !== null) {
    const topic = oneLine(write[1]!);
    return `${capitalize(topic)} is easiest to understand as a team of small, independent workers. ` +
      "Each one keeps its own state and reacts to the messages it receives, one at a time, " +
      "which means no locks and no shared memory to get wrong. Because the messages travel the same way " +
      "within a process, between machines or to a browser tab, the same code scales from a laptop to a cluster. " +
      "When one worker fails, its supervisor restarts it and the others carry on, " +
      "so the system as a whole stays up while its parts come and go.";
  }
  return defaultReply(request);
}

const oneLine = (text: string): string => text.replace(/\s+/g, " ").trim().slice(0, 80);
const capitalize = (text: string): string => text.charAt(0).toUpperCase() + text.slice(1);

async function handle(req: IncomingMessage, res: ServerResponse, requests: FakeLlmRequest[], options: FakeLlmServerOptions): Promise<void> {
  const path = (req.url ?? "").split("?")[0];
  if (req.method === "GET" && path === "/v1/models") {
    sendJson(res, 200, { object: "list", data: [{ id: "fake-model", object: "model", created: 0, owned_by: "fake" }] });
    return;
  }
  if (req.method !== "POST" || path !== "/v1/chat/completions") {
    sendError(res, 404, `no route ${req.method} ${path}`);
    return;
  }
  const body = await readJson(req);
  const model = typeof body?.model === "string" ? body.model : undefined;
  const messages = Array.isArray(body?.messages) ? (body.messages as FakeChatMessage[]) : undefined;
  if (body === undefined || model === undefined || messages === undefined) {
    sendError(res, 400, "'model' and 'messages' are required");
    return;
  }
  const request: FakeLlmRequest = { model, messages, stream: body.stream === true, body, headers: req.headers, tokensSent: 0, finished: false, closedEarly: false };
  requests.push(request);
  res.on("close", () => {
    if (!request.finished) request.closedEarly = true;
  });
  if (model === "stall") return; // never answers: the client's timeout or abort ends it (closedEarly)
  const failure = /^http-(\d{3})$/.exec(model);
  if (failure !== null) {
    sendError(res, Number(failure[1]), `fake failure ${failure[1]}`);
    request.finished = true;
    return;
  }
  const text = (options.reply ?? defaultReply)(request);
  const id = `chatcmpl-fake-${requests.length}`;
  const created = Math.floor(Date.now() / 1000);
  if (!request.stream) {
    request.finished = true;
    sendJson(res, 200, {
      id,
      object: "chat.completion",
      created,
      model,
      choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" }],
      usage: { prompt_tokens: 0, completion_tokens: tokens(text).length, total_tokens: tokens(text).length },
    });
    return;
  }
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
  const chunk = (delta: Record<string, unknown>, finish: string | null) =>
    `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
  const send = async (data: string): Promise<boolean> => {
    if (request.closedEarly || res.destroyed) return false;
    // Backpressure: a client that stops reading stops this writer (the socket's buffer does not grow).
    if (!res.write(data)) await new Promise<void>((resolve) => {
      res.once("drain", resolve);
      res.once("close", resolve);
    });
    return !request.closedEarly && !res.destroyed;
  };
  if (!(await send(chunk({ role: "assistant", content: "" }, null)))) return;
  for (const [index, token] of tokens(text).entries()) {
    const delay = typeof options.tokenDelayMs === "function" ? options.tokenDelayMs(index) : (options.tokenDelayMs ?? 0);
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    if (!(await send(chunk({ content: token }, null)))) return;
    request.tokensSent++;
  }
  if (!(await send(chunk({}, "stop")))) return;
  request.finished = true;
  res.end("data: [DONE]\n\n");
}

/** Words with their trailing space: what the fake calls tokens. */
function tokens(text: string): string[] {
  return text.match(/\S+\s*|\s+/g) ?? [];
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown> | undefined> {
  const parts: Buffer[] = [];
  for await (const part of req) parts.push(part as Buffer);
  try {
    return JSON.parse(Buffer.concat(parts).toString("utf8")) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, message: string): void {
  sendJson(res, status, { error: { message, type: "fake_error", param: null, code: null } });
}
