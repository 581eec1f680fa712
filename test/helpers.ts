/**
 * Polls `check` until it stops throwing or `timeoutMs` passes (then rethrows its last error).
 * Give every `assert.ok` a message (here and in tests generally): without one, a failing `assert.ok` re-reads and
 * parses its source file to describe the expression, and on tsx-compiled tests that parse can spin for minutes —
 * a polled check that fails at first then hangs the test (nodejs/node#52677, #52962).
 */
export async function eventually(check: () => unknown | Promise<unknown>, timeoutMs = 5_000, intervalMs = 10): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * An `assert.rejects` / `assert.throws` validator: a `PulsingRuntimeError` (or timeout/unsupported error) with
 * this `code` — what callers branch on — and, when given, a message matching `message` (for tests whose point is
 * the wording, such as a hint).
 */
export function hasCode(code: string, message?: RegExp): (error: unknown) => true {
  return (error) => {
    const actual = (error as { code?: unknown } | null)?.code;
    if (!(error instanceof Error) || actual !== code) {
      throw new Error(`expected an error with code ${code}, got ${error instanceof Error ? `${error.name} (code ${String(actual)}): ${error.message}` : String(error)}`);
    }
    if (message !== undefined && !message.test(error.message)) throw new Error(`expected a message matching ${message}, got: ${error.message}`);
    return true;
  };
}
