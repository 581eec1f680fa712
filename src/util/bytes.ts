/** The bytes of `parts`, one after the other, in one new buffer. */
export function concatBytes(parts: ReadonlyArray<ArrayLike<number>>): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
