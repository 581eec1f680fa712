/**
 * Type-level tests, checked by `tsc` (part of `npm test`): every `@ts-expect-error` line must fail to compile,
 * every other line must compile. Nothing here runs.
 */
import * as pul from "pulsing";

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(_: T): void {}

class Counter {
  value = 0;
  #hidden = 1;
  private secret = 2;
  constructor(init: number, public label?: string) {
    this.value = init + this.#hidden + this.secret;
  }
  incr(): number {
    return ++this.value;
  }
  async add(n: number): Promise<number> {
    return (this.value += n);
  }
  async *count(to: number): AsyncGenerator<number> {
    for (let i = 0; i < to; i++) yield i;
  }
  *names(): Generator<string> {
    yield "a";
  }
  list(): number[] {
    return [1];
  }
  async stream(): Promise<AsyncIterable<boolean>> {
    return (async function* () {
      yield true;
    })();
  }
  _internal(): void {}
  onStart(): void {}
  onStop(): void {}
}

declare const c: pul.ActorProxy<Counter>;

// Methods become promise-returning; async results are flattened.
expectType<Equal<ReturnType<typeof c.incr>, Promise<number>>>(true);
expectType<Equal<ReturnType<typeof c.add>, Promise<number>>>(true);
expectType<Equal<ReturnType<typeof c.list>, Promise<number[]>>>(true);
// Generators and async iterables become ActorStream.
expectType<Equal<ReturnType<typeof c.count>, pul.ActorStream<number>>>(true);
expectType<Equal<ReturnType<typeof c.names>, pul.ActorStream<string>>>(true);
expectType<Equal<ReturnType<typeof c.stream>, pul.ActorStream<boolean>>>(true);
// Every proxy has these.
expectType<Equal<typeof c.ref, pul.ActorRef>>(true);
expectType<Equal<ReturnType<typeof c.withOptions>, pul.ActorProxy<Counter>>>(true);
expectType<Equal<ReturnType<typeof c.toJSON>, { actorId: string }>>(true);

// @ts-expect-error a wrong argument type does not compile
void c.add("1");
// @ts-expect-error too few arguments
void c.add();
// @ts-expect-error fields are not exposed
void c.value;
// @ts-expect-error constructor parameter properties are fields too
void c.label;
// @ts-expect-error an unknown method does not compile
void c.decr();
// @ts-expect-error private members are not exposed
void c.secret;
// @ts-expect-error '_'-prefixed methods are not exposed
void c._internal();
// @ts-expect-error lifecycle hooks are not exposed
void c.onStart();
// @ts-expect-error a proxy is not thenable
void c.then;

// Untyped proxies take any method name and return an ActorCall.
declare const any: pul.ActorProxy<any>;
const call: pul.ActorCall = any.whatever(1, "two");
void call.cancel;
expectType<Equal<typeof any.ref, pul.ActorRef>>(true);
async function iterate(): Promise<void> {
  for await (const item of any.items()) void item;
  const value: number = await any.count();
  void value;
}
void iterate;

// Spawn options: `args` are typed as the constructor's parameters, and required when it requires them.
async function spawning(): Promise<void> {
  const p = await pul.spawn(Counter, { args: [1, "x"], name: "c" });
  expectType<Equal<typeof p, pul.ActorProxy<Counter>>>(true);
  // @ts-expect-error args are required: the constructor has a required parameter
  await pul.spawn(Counter);
  // @ts-expect-error args are required
  await pul.spawn(Counter, { name: "c" });
  // @ts-expect-error args have the constructor's types
  await pul.spawn(Counter, { args: ["1"] });
  // @ts-expect-error a misspelt restart policy does not compile
  await pul.spawn(Counter, { args: [1], restartPolicy: "sometimes" });
  class NoArgs {
    hi(): string {
      return "hi";
    }
  }
  await pul.spawn(NoArgs);
  const Remote = pul.remote(class Greeter {
    constructor(readonly greeting = "hi") {}
    greet(name: string): string {
      return `${this.greeting} ${name}`;
    }
  });
  const g = await Remote.spawn({ args: ["hello"] });
  expectType<Equal<ReturnType<typeof g.greet>, Promise<string>>>(true);
  const g2 = await Remote.resolve("greeter", { timeout: 1_000 });
  // @ts-expect-error resolved proxies are typed too
  void g2.greet(1);
  const typed = await pul.resolve("c", { cls: Counter });
  expectType<Equal<typeof typed, pul.ActorProxy<Counter>>>(true);
  const untyped = await pul.resolve("c");
  expectType<Equal<typeof untyped, pul.ActorProxy<any>>>(true);
  const ref = await pul.getSystem().resolve("c");
  const fromRef = ref.asType(Counter);
  expectType<Equal<typeof fromRef, pul.ActorProxy<Counter>>>(true);
  // @ts-expect-error proxies from refs are typed too
  void fromRef.incr(1);
}
void spawning;

// Decorator form: standard (TC39) decorators, with and without options.
@pul.remote
class Decorated {
  hi(): string {
    return "hi";
  }
}
@pul.remote({ restartPolicy: "on_failure", maxRestarts: 3, minBackoff: 100, maxBackoff: 30_000, concurrency: 8 })
class DecoratedWithOptions {
  hi(): string {
    return "hi";
  }
}
void Decorated;
void DecoratedWithOptions;

// --- member events are typed: no cast needed ---------------------------------------------------------------------
async function events(system: pul.ActorSystem): Promise<void> {
  system.addEventListener("member:up", (e) => expectType<Equal<typeof e.detail.nodeId, string>>(true));
  system.addEventListener("member:down", (e) => expectType<Equal<typeof e.detail.status, "alive" | "suspect" | "dead">>(true));
  // @ts-expect-error a member has no such field
  system.addEventListener("member:suspect", (e) => e.detail.nope);
  system.addEventListener("some-other-event", (e) => expectType<Equal<typeof e, Event>>(true));
}
void events;

// --- options: what type-checks is what is accepted at run time (the checkers are derived from these types) -----
async function options(): Promise<void> {
  const signal = AbortSignal.timeout(1_000);
  await pul.init({ seeds: ["127.0.0.1:8000"], signal });
  await pul.resolve("x", { timeout: 10, nodeId: "n", policy: "random", signal });
  await pul.spawn(Counter, { args: [1], name: "c", signal });
  // @ts-expect-error not an option of resolve()
  await pul.resolve("x", { policyy: "random" });
  // @ts-expect-error policies are a closed set (or a function)
  await pul.resolve("x", { policy: "closest" });
}
void options;

// --- error codes: a closed union users can switch over -----------------------------------------------------------
function codes(error: unknown): string {
  if (error instanceof pul.PulsingRuntimeError) {
    expectType<Equal<typeof error.code, pul.ErrorCode>>(true);
    switch (error.code) {
      case pul.ErrorCode.NODE_UNKNOWN:
      case "NODE_DEAD":
        return "node";
      // @ts-expect-error not a code
      case "NODE_GONE":
        return "?";
    }
  }
  return "other";
}
void codes;
