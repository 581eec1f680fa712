/**
 * The raw attacker runs plain js-libp2p, without Pulsing (whose entry installs this): on Node 20 it-queue, yamux
 * and @libp2p/utils call `Promise.withResolvers`, which Node 20 lacks. Imported before libp2p.
 */
const ctor = Promise as unknown as { withResolvers?: unknown };
if (typeof ctor.withResolvers !== "function") {
  Object.defineProperty(Promise, "withResolvers", {
    configurable: true,
    writable: true,
    value: function withResolvers<T>() {
      let resolve!: (value: T | PromiseLike<T>) => void;
      let reject!: (reason?: unknown) => void;
      const promise = new Promise<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}

export {};
