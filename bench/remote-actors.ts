/**
 * What the remote benchmarks send and whom they call. Both processes import this module, so `@remote` registers
 * `BenchEcho` on each and `spawn(BenchEcho, { node })` can build it on the other process.
 */
import * as pul from "pulsing";

export interface Payload {
  seq: number;
  body: string;
}

/** The request of every ask and floor call: about 100 bytes once msgpack-encoded. */
export const PAYLOAD: Payload = { seq: 1, body: "x".repeat(80) };

@pul.remote
export class BenchEcho {
  echo(value: Payload): Payload {
    return value;
  }

  /** A sync generator: it runs in the sync context slot, so it does not turn on AsyncLocalStorage in the child. */
  *items(n: number): Generator<number> {
    for (let i = 0; i < n; i++) yield i;
  }

  /** The same stream from an async generator (runs under AsyncLocalStorage: measure it last). */
  async *itemsAsync(n: number): AsyncGenerator<number> {
    for (let i = 0; i < n; i++) yield i;
  }
}
