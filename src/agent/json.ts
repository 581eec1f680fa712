/**
 * Reading JSON out of model output: models wrap it in a fenced block (```json … ```) as often as not, and sometimes
 * answer with no JSON at all, so both helpers return a fallback rather than throw.
 */

/**
 * Parses `text` as JSON: plain JSON, or the first fenced block (```json … ``` or ``` … ```) in it. Returns `fallback`
 * when `text` is empty, not a string, or holds no valid JSON.
 *
 * ```ts
 * parseJson('{"a": 1}');                   // { a: 1 }
 * parseJson('```json\n{"a": 1}\n```', {}); // { a: 1 }
 * parseJson("no json here", {});           // {}
 * ```
 */
export function parseJson<T = unknown>(text: string | null | undefined, fallback?: T): T {
  if (typeof text !== "string") return fallback as T;
  const trimmed = text.trim();
  if (trimmed === "") return fallback as T;
  const fenced = fencedBlock(trimmed);
  for (const candidate of fenced === undefined ? [trimmed] : [fenced, trimmed]) {
    try {
      return JSON.parse(candidate) as T;
    } catch {
      // not JSON: try the next candidate, then the fallback
    }
  }
  return fallback as T;
}

/**
 * The field `field` of the JSON object in `text` (see `parseJson`), or `fallback` when there is no object or it
 * lacks the field.
 *
 * ```ts
 * extractField('{"score": 8, "reason": "good"}', "score", 0); // 8
 * ```
 */
export function extractField<T = unknown>(text: string | null | undefined, field: string, fallback?: T): T {
  const data = parseJson<unknown>(text, undefined);
  if (typeof data !== "object" || data === null || Array.isArray(data) || !Object.hasOwn(data, field)) return fallback as T;
  return (data as Record<string, unknown>)[field] as T;
}

/** The body of the first fenced code block in `text` (its info string, e.g. `json`, dropped); undefined without one. */
function fencedBlock(text: string): string | undefined {
  const open = text.indexOf("```");
  if (open < 0) return undefined;
  const lineEnd = text.indexOf("\n", open + 3);
  if (lineEnd < 0) {
    // One line: ```{"a":1}``` or ```json {"a":1}```
    const close = text.indexOf("```", open + 3);
    if (close < 0) return undefined;
    const inner = text.slice(open + 3, close).trim();
    return inner.toLowerCase().startsWith("json") ? inner.slice(4).trim() : inner;
  }
  const info = text.slice(open + 3, lineEnd).trim();
  // An info string is a word (json, JSON, js…); anything else on the opening line is content.
  const bodyStart = /^[\w-]*$/.test(info) ? lineEnd + 1 : open + 3;
  const close = text.indexOf("```", bodyStart);
  return (close < 0 ? text.slice(bodyStart) : text.slice(bodyStart, close)).trim();
}
