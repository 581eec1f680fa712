/**
 * The README's options reference against the code: every option it lists is accepted by the function it is listed
 * under (a bad value for it is refused as a bad value, not as an unknown option), and every list is complete (the
 * options the function's checker accepts, no more, no fewer).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import * as pul from "pulsing";
import { startSeed } from "pulsing/node";
import { REMOTE_OPTIONS } from "../src/actor/class-registry.js";
import { CALL_OPTIONS } from "../src/actor/actor-ref.js";
import { MOUNT_OPTIONS, RESOLVE_OPTIONS, SPAWN_OPTIONS, SYSTEM_OPTIONS } from "../src/system/options.js";
import { MEMBERSHIP_OPTIONS } from "../src/cluster/membership.js";
import { RESOLVE_PROXY_OPTIONS } from "../src/global.js";
import { SEED_OPTIONS } from "../src/node/seed.js";

const README = readFileSync(new URL("../README.md", import.meta.url), "utf8");

/** Function label (as the README's headings write it) → the options it documents, dotted for nested ones. */
function documentedOptions(): Map<string, string[]> {
  const start = README.indexOf("## Options and errors reference");
  assert.ok(start >= 0, "the README has an options reference");
  const end = README.indexOf("\n## ", start + 1);
  const section = README.slice(start, end < 0 ? undefined : end);
  const byFunction = new Map<string, string[]>();
  let current: string[] = [];
  for (const line of section.split("\n")) {
    if (line.startsWith("### ")) {
      current = [...line.matchAll(/`([\w.]+\([^`]*\))`/g)].map((m) => m[1]!);
      for (const label of current) if (!byFunction.has(label)) byFunction.set(label, []);
      continue;
    }
    const row = /^\| `([\w.]+)` \|/.exec(line);
    if (row !== null && current.length > 0) for (const label of current) byFunction.get(label)!.push(row[1]!);
  }
  return byFunction;
}

class Plain {
  hello(): string {
    return "hi";
  }
}
const Remote = pul.remote(
  class ReadmeOptionsTarget {
    hello(): string {
      return "hi";
    }
  },
);

let system: pul.ActorSystem;
let ref: pul.ActorRef;

/** How to call each documented function with one options object, and the checker it is documented for. */
const functions: Record<string, { call(options: Record<string, unknown>): unknown; schema: object }> = {
  "pul.init(options)": { call: (o) => pul.init(o), schema: SYSTEM_OPTIONS },
  "pul.actorSystem(options)": { call: (o) => pul.actorSystem(o), schema: SYSTEM_OPTIONS },
  "pul.spawn(Cls, options)": { call: (o) => pul.spawn(Plain, o), schema: SPAWN_OPTIONS },
  "system.spawn(target, options)": { call: (o) => system.spawn(Plain, o), schema: SPAWN_OPTIONS },
  "Cls.spawn(options)": { call: (o) => Remote.spawn(o), schema: SPAWN_OPTIONS },
  "pul.resolve(name, options)": { call: (o) => pul.resolve("nobody", o), schema: RESOLVE_PROXY_OPTIONS },
  "system.resolve(name, options)": { call: (o) => system.resolve("nobody", o), schema: RESOLVE_OPTIONS },
  "Cls.resolve(name, options)": { call: (o) => Remote.resolve("nobody", o), schema: RESOLVE_OPTIONS },
  "pul.mount(obj, options)": { call: (o) => pul.mount({}, o as unknown as pul.MountOptions), schema: MOUNT_OPTIONS },
  "system.mount(obj, options)": { call: (o) => system.mount({}, o as unknown as pul.MountOptions), schema: MOUNT_OPTIONS },
  "pul.remote(options)": { call: (o) => pul.remote(o), schema: REMOTE_OPTIONS },
  "ref.ask(msg, options)": { call: (o) => ref.ask("x", o), schema: CALL_OPTIONS },
  "proxy.withOptions(options)": { call: (o) => ref.asType(Plain).withOptions(o).hello(), schema: CALL_OPTIONS },
  "startSeed(options)": { call: (o) => startSeed(o), schema: SEED_OPTIONS },
};

/** `{ a: { b: value } }` for the path `a.b`. */
function withValue(path: string, value: unknown): Record<string, unknown> {
  return path
    .split(".")
    .reverse()
    .reduce<unknown>((inner, key) => ({ [key]: inner }), value) as Record<string, unknown>;
}

async function outcome(run: () => unknown): Promise<unknown> {
  try {
    await run();
    return undefined;
  } catch (error) {
    return error;
  }
}

describe("the README's options reference", () => {
  const documented = documentedOptions();

  before(async () => {
    system = await pul.actorSystem();
    await pul.init();
    ref = await system.spawn(Plain);
  });
  after(async () => {
    await system?.shutdown();
    await pul.shutdown();
  });

  it("documents every function the test knows how to call, and no other", () => {
    assert.deepEqual([...documented.keys()].sort(), Object.keys(functions).sort());
  });

  it("lists exactly the options each function accepts", () => {
    for (const [label, options] of documented) {
      const accepted = Object.keys(functions[label]!.schema).sort();
      const topLevel = [...new Set(options.map((o) => o.split(".")[0]!))].sort();
      assert.deepEqual(topLevel, accepted, `the README's list for ${label}`);
      const nested = options.filter((o) => o.startsWith("membership."));
      if (nested.length > 0) {
        assert.deepEqual(nested.map((o) => o.slice("membership.".length)).sort(), Object.keys(MEMBERSHIP_OPTIONS).sort(), `membership options of ${label}`);
      }
    }
  });

  it("every documented option is accepted by the function it is documented for", async () => {
    let checked = 0;
    for (const [label, options] of documented) {
      for (const option of options) {
        const error = await outcome(() => functions[label]!.call(withValue(option, Symbol("not a valid value"))));
        const leaf = option.split(".").at(-1)!;
        assert.ok(
          error instanceof pul.PulsingRuntimeError && error.code === pul.ErrorCode.INVALID_OPTION,
          `${label} with a bad '${option}': expected an INVALID_OPTION error, got ${String(error)}`,
        );
        assert.ok(!error.message.includes("unknown option"), `${label} does not know its documented option '${option}': ${error.message}`);
        assert.ok(error.message.includes(`'${leaf}'`), `${label}'s error names '${leaf}': ${error.message}`);
        checked++;
      }
    }
    assert.ok(checked >= 50, `checked ${checked} documented options`);
  });

  it("an option that is not documented is refused as unknown, with a hint", async () => {
    const error = await outcome(() => pul.resolve("nobody", { polcy: "random" } as pul.ResolveOptions));
    assert.ok(error instanceof pul.PulsingRuntimeError && error.code === pul.ErrorCode.INVALID_OPTION, `got ${String(error)}`);
    assert.ok(error.message.includes("unknown option 'polcy'") && error.message.includes("did you mean 'policy'"), error.message);
  });
});
