/**
 * Environment variables where the runtime has them (Node, Deno) and nothing where it has not (a tab): the toolkit
 * is isomorphic, so it probes the globals rather than importing `node:process`.
 */
interface EnvGlobals {
  process?: { env?: Record<string, string | undefined> };
  Deno?: { env?: { get(name: string): string | undefined } };
}

/** The variable's value, trimmed; undefined when unset or empty. */
export function readEnv(name: string): string | undefined {
  const globals = globalThis as EnvGlobals;
  const fromProcess = globals.process?.env?.[name]?.trim();
  if (fromProcess) return fromProcess;
  try {
    return globals.Deno?.env?.get(name)?.trim() || undefined;
  } catch {
    return undefined; // Deno without --allow-env
  }
}
