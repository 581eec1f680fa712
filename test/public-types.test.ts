/**
 * The published types: what `tsc -p tsconfig.build.json` writes to dist/ for users. Internals (`@internal`) are
 * stripped, and a program written against the package's own types (no source condition) type-checks the public API
 * and is refused the internals.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const tsc = join(root, "node_modules/typescript/bin/tsc");

describe("the published types", () => {
  let scratch: string;
  before(() => {
    execFileSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], { cwd: root, stdio: "pipe" });
    scratch = mkdtempSync(join(root, ".scratch-types-"));
  });
  after(() => rmSync(scratch, { recursive: true, force: true }));

  it("leave out what is marked @internal", () => {
    const system = readFileSync(join(root, "dist/system/actor-system.d.ts"), "utf8");
    const ref = readFileSync(join(root, "dist/actor/actor-ref.d.ts"), "utf8");
    for (const member of ["get mesh()", "static create(", "onShutdown(", "membershipTraffic("]) {
      assert.ok(!system.includes(member), `ActorSystem's published type has ${member}`);
    }
    for (const member of ["route: unknown", "invoke(", "addrHint("]) {
      assert.ok(!ref.includes(member), `ActorRef's published type has ${member}`);
    }
    assert.ok(system.includes("private constructor"), "ActorSystem cannot be constructed by users");
  });

  it("a program against the package's types sees the public API and not the internals", () => {
    // Inside the repository, `pulsing` resolves to the package itself (its `exports`, without the source condition).
    const program = join(scratch, "user.ts");
    writeFileSync(
      program,
      `import * as pul from "pulsing";
const system = await pul.actorSystem({ signal: AbortSignal.timeout(1_000) });
system.addEventListener("member:up", (e) => e.detail.nodeId.toUpperCase());
const code: pul.ErrorCode = pul.ErrorCode.NODE_DEAD;
void code;
// An actor's context knows its system and resolves names (declared by the system layer for the actor layer's type).
const whereAmI = async (): Promise<string> => {
  const ctx: pul.ActorContext = pul.currentContext();
  const system: pul.ActorSystem = ctx.system;
  const other: pul.ActorRef = await ctx.actorRef("x", { timeout: 10, policy: "random" });
  return system.nodeId + ctx.nodeId + String(other.actorId);
};
void whereAmI;
// @ts-expect-error internal
void system.mesh;
const ref = await system.resolve("x");
// @ts-expect-error internal
void ref.route;
// @ts-expect-error internal
void ref.invoke;
// @ts-expect-error not constructible by users
new pul.ActorSystem("id");
await system.shutdown();
`,
    );
    writeFileSync(
      join(scratch, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          lib: ["ES2024", "DOM", "ESNext.Disposable"],
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: [],
        },
        files: ["user.ts"],
      }),
    );
    try {
      execFileSync(process.execPath, [tsc, "-p", join(scratch, "tsconfig.json")], { cwd: scratch, stdio: "pipe", encoding: "utf8" });
    } catch (error) {
      assert.fail(`the program does not type-check against dist/: ${(error as { stdout?: string }).stdout ?? String(error)}`);
    }
  });
});
