/**
 * Finds where in a value the codec gives up, so the error can say `args[0].user.onChange: a function`.
 * Only runs after an encode failed, so it may be thorough rather than fast.
 */
export function findUnencodable(value: unknown, path: string): { path: string; reason: string } | undefined {
  return walk(value, path, new Set());
}

function walk(value: unknown, path: string, ancestors: Set<object>): { path: string; reason: string } | undefined {
  switch (typeof value) {
    case "function":
      return { path, reason: "a function cannot be sent (pass an actor ref or proxy instead)" };
    case "symbol":
      return { path, reason: "a symbol cannot be sent" };
    case "object":
      break;
    default:
      return undefined;
  }
  if (value === null) return undefined;
  if (value instanceof Promise) return { path, reason: "a Promise cannot be sent (await it first)" };
  if (value instanceof WeakMap || value instanceof WeakSet) return { path, reason: "a weak collection cannot be sent" };
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof Date) return undefined;
  if (ancestors.has(value)) return { path, reason: "a cycle (the value contains itself)" };
  ancestors.add(value);
  try {
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const found = walk(value[i], `${path}[${i}]`, ancestors);
        if (found) return found;
      }
    } else if (value instanceof Map) {
      for (const [k, v] of value) {
        const found = walk(k, `${path}.<key>`, ancestors) ?? walk(v, `${path}[${JSON.stringify(String(k))}]`, ancestors);
        if (found) return found;
      }
    } else if (value instanceof Set) {
      let i = 0;
      for (const v of value) {
        const found = walk(v, `${path}.<item ${i++}>`, ancestors);
        if (found) return found;
      }
    } else {
      for (const key of Object.keys(value)) {
        const found = walk((value as Record<string, unknown>)[key], `${path}.${key}`, ancestors);
        if (found) return found;
      }
    }
  } finally {
    ancestors.delete(value);
  }
  return undefined;
}
