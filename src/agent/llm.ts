/**
 * `llm()`: a chat client for any OpenAI-compatible endpoint, on the official `openai` package (loaded on first use).
 * `invoke()` answers with the whole reply; `stream()` yields its tokens as they arrive and closes the HTTP request
 * when its reader stops early, so an actor method that `yield*`s it is an actor stream whose backpressure and
 * cancellation reach the model server.
 */
import type OpenAI from "openai";
import type { ChatCompletionMessageParam } from "openai/resources/chat/completions";
import { platform } from "#platform";
import { contextStore, currentContext } from "../actor/context.js";
import { abortReason, ErrorCode, PulsingRuntimeError, PulsingTimeoutError } from "../errors/errors.js";
import { checkOptions, duration, integer, invalid, show, signal as signalCheck, string, type Check, type OptionSchema } from "../util/options.js";
import { readEnv } from "./env.js";

/** One chat message. */
export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

/** What `invoke()` and `stream()` take: a prompt (one user message) or the messages of a conversation. */
export type LlmInput = string | readonly ChatMessage[];

/** Options of `llm()`. Each of the first three falls back to its environment variable. */
export interface LlmOptions {
  /** The endpoint's base URL, e.g. `https://api.openai.com/v1` or `http://127.0.0.1:11434/v1`. @default OPENAI_BASE_URL */
  baseURL?: string;
  /** The API key; a server that needs none gets a placeholder. @default OPENAI_API_KEY */
  apiKey?: string;
  /** The model name. @default OPENAI_MODEL */
  model?: string;
  /** A system prompt put before the messages of every request. */
  system?: string;
  /** Sampling temperature, 0–2. @default the server's */
  temperature?: number;
  /** Most tokens to generate per reply. @default the server's */
  maxTokens?: number;
  /** Per request, in ms (a slow reply rejects with `PulsingTimeoutError`). @default 600_000 */
  timeout?: number;
  /** Retries of failed requests (connection errors, 408, 409, 429, 5xx), with backoff. @default 2 */
  maxRetries?: number;
}

/** Per-call options of `invoke()` and `stream()`. */
export interface LlmCallOptions {
  /** Aborting rejects the call (or ends the stream) with the signal's reason and closes the HTTP request. */
  signal?: AbortSignal;
  temperature?: number;
  maxTokens?: number;
}

/** A chat client (see `llm()`). */
export interface LlmClient {
  readonly baseURL: string;
  readonly model: string;
  /** The whole reply to `input`. */
  invoke(input: LlmInput, options?: LlmCallOptions): Promise<string>;
  /**
   * The reply's tokens as the server sends them. Stopping early (`break`, `return()`, a cancelled actor stream, the
   * signal) aborts the HTTP request. Inside an actor method the call's own signal (`currentContext().signal`) is
   * followed too, where the runtime tracks async context (Node, Deno); in a tab pass it as `signal`.
   */
  stream(input: LlmInput, options?: LlmCallOptions): AsyncGenerator<string, void, undefined>;
}

/**
 * The model endpoint failed: an HTTP error status (`status`), or no answer at all (`status` undefined). Its code is
 * `UPSTREAM_FAILED`. Across the wire it arrives as a `PulsingRuntimeError` with that code, whose `cause` (the
 * `openai` package's error) still carries `status`.
 */
export class LlmError extends PulsingRuntimeError {
  /** The HTTP status the endpoint answered with; undefined when it could not be reached. */
  readonly status: number | undefined;
  constructor(message: string, status: number | undefined, cause?: unknown) {
    super(ErrorCode.UPSTREAM_FAILED, message, cause);
    this.status = status;
  }
}

const temperature: Check<number> = (where, name, value) => {
  if (typeof value !== "number" || !(value >= 0 && value <= 2)) throw invalid(`${where}: '${name}' must be a number from 0 to 2, got ${show(value)}`);
  return value;
};

const httpUrl: Check<string> = (where, name, value) => {
  string(where, name, value);
  let url: URL | undefined;
  try {
    url = new URL(value as string);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:")) {
    throw invalid(`${where}: '${name}' must be an http(s) URL, got ${show(value)}`);
  }
  return value as string;
};

/** The checks of `LlmOptions`. */
export const LLM_OPTIONS = {
  baseURL: httpUrl,
  apiKey: string,
  model: string,
  system: string,
  temperature,
  maxTokens: integer(1),
  timeout: duration,
  maxRetries: integer(0),
} satisfies OptionSchema<LlmOptions>;

/** The checks of `LlmCallOptions`. */
export const LLM_CALL_OPTIONS = {
  signal: signalCheck,
  temperature,
  maxTokens: integer(1),
} satisfies OptionSchema<LlmCallOptions>;

/** Sent when no key is configured: the `openai` package requires one, and local servers ignore it. */
const NO_KEY = "no-key";

let defaultClient: Promise<LlmClient> | undefined;

/**
 * A chat client. Without options: the process's default client, configured from `OPENAI_BASE_URL`, `OPENAI_API_KEY`
 * and `OPENAI_MODEL`, made once (until `resetLlm()`). With options: a new client, each option falling back to its
 * environment variable. A missing endpoint or model is a `PulsingRuntimeError` (`INVALID_OPTION`) naming the
 * option and the variable.
 */
export async function llm(options?: LlmOptions): Promise<LlmClient> {
  if (options !== undefined) return createClient(options);
  defaultClient ??= createClient({}).catch((error: unknown) => {
    defaultClient = undefined; // configure the environment and try again
    throw error;
  });
  return defaultClient;
}

/** Forgets the default client: the next `llm()` reads the environment again. */
export function resetLlm(): void {
  defaultClient = undefined;
}

async function createClient(options: LlmOptions): Promise<LlmClient> {
  checkOptions("llm()", options, LLM_OPTIONS);
  const baseURL = options.baseURL ?? fromEnv("OPENAI_BASE_URL", "baseURL", httpUrl);
  const model = options.model ?? fromEnv("OPENAI_MODEL", "model", string);
  if (baseURL === undefined) {
    throw new PulsingRuntimeError(
      ErrorCode.INVALID_OPTION,
      "llm(): no endpoint: pass { baseURL } or set OPENAI_BASE_URL (e.g. https://api.openai.com/v1, or a local OpenAI-compatible server)",
    );
  }
  if (model === undefined) {
    throw new PulsingRuntimeError(ErrorCode.INVALID_OPTION, "llm(): no model: pass { model } or set OPENAI_MODEL");
  }
  const { default: OpenAIClass } = await import("openai");
  const openai = new OpenAIClass({
    baseURL,
    apiKey: options.apiKey ?? readEnv("OPENAI_API_KEY") ?? NO_KEY,
    ...(options.timeout !== undefined ? { timeout: options.timeout } : {}),
    ...(options.maxRetries !== undefined ? { maxRetries: options.maxRetries } : {}),
    // The package refuses to run in a page unless told to: a tab's key is visible to its user, which is the
    // deployer's choice to make (a local or proxied endpoint, a per-user key).
    ...(platform.runtime === "browser" ? { dangerouslyAllowBrowser: true } : {}),
  });
  return new Client(openai, baseURL, model, options);
}

/** An environment variable, checked like the option it stands for (a bad value names both). */
function fromEnv<T>(variable: string, option: string, check: Check<T>): T | undefined {
  const value = readEnv(variable);
  return value === undefined ? undefined : check("llm()", `${option} (from ${variable})`, value);
}

class Client implements LlmClient {
  readonly baseURL: string;
  readonly model: string;
  readonly #openai: OpenAI;
  readonly #options: LlmOptions;

  constructor(openai: OpenAI, baseURL: string, model: string, options: LlmOptions) {
    this.#openai = openai;
    this.baseURL = baseURL;
    this.model = model;
    this.#options = options;
  }

  async invoke(input: LlmInput, options: LlmCallOptions = {}): Promise<string> {
    const body = this.#body("invoke()", input, options);
    const signal = callSignal(options.signal);
    try {
      const completion = await this.#openai.chat.completions.create({ ...body, stream: false }, signal === undefined ? {} : { signal });
      return completion.choices[0]?.message?.content ?? "";
    } catch (error) {
      throw this.#failure("invoke()", error, signal);
    }
  }

  stream(input: LlmInput, options: LlmCallOptions = {}): AsyncGenerator<string, void, undefined> {
    // Checked now, not at the first next(): a bad call fails where it is made.
    const body = this.#body("stream()", input, options);
    // Taken now too: in a tab the actor call's context is gone after the method's first await.
    const outer = callSignal(options.signal);
    return this.#tokens(body, outer);
  }

  async *#tokens(body: RequestBody, outer: AbortSignal | undefined): AsyncGenerator<string, void, undefined> {
    const stop = new AbortController();
    const signal = outer === undefined ? stop.signal : AbortSignal.any([stop.signal, outer]);
    let finished = false;
    try {
      const chunks = await this.#openai.chat.completions.create({ ...body, stream: true }, { signal });
      for await (const chunk of chunks) {
        const token = chunk.choices[0]?.delta?.content;
        if (typeof token === "string" && token.length > 0) yield token;
      }
      // The package ends a stream quietly when its signal aborts: the caller's abort is an error to the reader.
      outer?.throwIfAborted();
      finished = true;
    } catch (error) {
      finished = true;
      throw this.#failure("stream()", error, outer);
    } finally {
      // The reader stopped early (break, return(), a cancelled actor stream): close the request, so the server
      // stops generating. (The package's stream does so too when its loop is left early; this does not rely on it.)
      if (!finished) stop.abort(new DOMException("the token stream's reader stopped", "AbortError"));
    }
  }

  #body(where: string, input: LlmInput, options: LlmCallOptions): RequestBody {
    checkOptions(`llm ${where}`, options, LLM_CALL_OPTIONS);
    const messages = toMessages(where, input, this.#options.system);
    const temperature = options.temperature ?? this.#options.temperature;
    const maxTokens = options.maxTokens ?? this.#options.maxTokens;
    return {
      model: this.model,
      messages,
      ...(temperature !== undefined ? { temperature } : {}),
      ...(maxTokens !== undefined ? { max_tokens: maxTokens } : {}),
    };
  }

  /** A failure of the `openai` package as a Pulsing error; an abort as its signal's reason. */
  #failure(where: string, error: unknown, signal: AbortSignal | undefined): unknown {
    if (signal?.aborted) return abortReason(signal);
    // Identified by class (the package's error classes), never by message.
    const errors = this.#openai.constructor as unknown as typeof OpenAI;
    if (error instanceof errors.APIUserAbortError) return new DOMException("The operation was aborted", "AbortError");
    if (error instanceof errors.APIConnectionTimeoutError) return new PulsingTimeoutError(`llm ${where} (${this.baseURL})`, this.#options.timeout ?? 600_000);
    if (error instanceof errors.APIConnectionError) {
      return new LlmError(`llm ${where}: could not reach ${this.baseURL}: ${error.message}`, undefined, error);
    }
    if (error instanceof errors.APIError) {
      const status = typeof error.status === "number" ? error.status : undefined;
      return new LlmError(`llm ${where}: ${this.baseURL} answered${status !== undefined ? ` HTTP ${status}` : " with an error"}: ${error.message}`, status, error);
    }
    if (error instanceof errors.OpenAIError) return new LlmError(`llm ${where}: ${error.message}`, undefined, error);
    return error;
  }
}

interface RequestBody {
  model: string;
  messages: ChatCompletionMessageParam[];
  temperature?: number;
  max_tokens?: number;
}

const ROLES: ReadonlySet<string> = new Set(["system", "user", "assistant"]);

function toMessages(where: string, input: LlmInput, system: string | undefined): ChatCompletionMessageParam[] {
  const head: ChatCompletionMessageParam[] = system !== undefined ? [{ role: "system", content: system }] : [];
  if (typeof input === "string") return [...head, { role: "user", content: input }];
  if (!Array.isArray(input) || input.length === 0) {
    throw new PulsingRuntimeError(ErrorCode.INVALID_ARGUMENT, `llm ${where}: expected a prompt or a non-empty array of { role, content } messages, got ${show(input)}`);
  }
  return [
    ...head,
    ...input.map((message: unknown, i): ChatCompletionMessageParam => {
      const m = message as Partial<ChatMessage> | null;
      if (typeof m !== "object" || m === null || typeof m.role !== "string" || !ROLES.has(m.role) || typeof m.content !== "string") {
        throw new PulsingRuntimeError(
          ErrorCode.INVALID_ARGUMENT,
          `llm ${where}: message ${i} must be { role: "system" | "user" | "assistant", content: string }, got ${show(message)}`,
        );
      }
      return { role: m.role, content: m.content } as ChatCompletionMessageParam;
    }),
  ];
}

/** The caller's signal joined with the running actor call's (aborted when that call is cancelled), if any. */
function callSignal(signal: AbortSignal | undefined): AbortSignal | undefined {
  const ambient = contextStore.get() !== undefined ? actorSignal() : undefined;
  if (ambient === undefined) return signal;
  return signal === undefined ? ambient : AbortSignal.any([signal, ambient]);
}

function actorSignal(): AbortSignal | undefined {
  try {
    return currentContext().signal;
  } catch {
    return undefined; // not inside an actor method
  }
}
