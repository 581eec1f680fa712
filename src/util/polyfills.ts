/**
 * Guarded polyfills for what the stack needs and older runtimes lack.
 * Imported first by every public entry; each shim installs only when missing.
 *
 * - `Promise.withResolvers`: Node 20 lacks it; it-queue, yamux and @libp2p/utils call it.
 * - `Symbol.dispose` / `Symbol.asyncDispose`: lowered `using` declarations look them up.
 */
interface PromiseConstructorWithResolvers {
  withResolvers?: <T>() => { promise: Promise<T>; resolve: (value: T | PromiseLike<T>) => void; reject: (reason?: unknown) => void };
}

const promiseCtor = Promise as unknown as PromiseConstructorWithResolvers;
if (typeof promiseCtor.withResolvers !== "function") {
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

const symbolCtor = Symbol as unknown as Record<string, symbol | undefined>;
for (const name of ["dispose", "asyncDispose"]) {
  if (typeof symbolCtor[name] !== "symbol") {
    Object.defineProperty(Symbol, name, { value: Symbol.for(`Symbol.${name}`) });
  }
}

export {};
