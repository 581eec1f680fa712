/**
 * Admission: the cluster secret (`passphrase`), over TCP and WebSockets, between real processes. Nodes that share
 * the secret talk both ways; a node with a wrong or missing secret (or a secret where the cluster has none) is
 * refused fast, with a message saying why, and can reach no actor.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { peerIdFromString } from "@libp2p/peer-id";
import { multiaddr } from "@multiformats/multiaddr";
import * as pul from "pulsing";
import { startNode, tcpAddr, wsAddr, type ChildNode } from "./cluster/harness.js";
import { Counter } from "./fixtures/actors.js";
import { ADMIT_PROTOCOL, rawNode } from "./hostile/raw-client.js";

const SECRET = "correct horse battery staple";
/** A refusal must come from the handshake, well before the 5 s admission or join timeouts. */
const FAST_MS = 3_000;
/** Any refusal still pending after this is a hang: fail instead of waiting forever. */
const HANG_MS = 10_000;

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/**
 * Joining runs in a fresh process: `actorSystem(options)` there, timed there, the outcome printed as one JSON
 * line. (A refused join leaves its seed-retry loop running — see the known bug below — so it must not run in
 * this process, which would then never exit.) With `exit`, the script exits once it has printed; without, it is left
 * to exit on its own.
 */
const JOIN_SCRIPT = `
import * as pul from "pulsing";
const options = JSON.parse(process.argv[1]);
// Load the network stack first, so the timing below is the join itself.
await (await pul.actorSystem({ addr: "127.0.0.1:0" })).shutdown();
// What the library prints while joining, failing and shutting down: a refused node must stop quietly.
const printed = [];
for (const level of ["log", "info", "warn", "error"]) {
  const original = console[level];
  console[level] = (...args) => (printed.push(args.map(String).join(" ")), original.apply(console, args));
}
const start = performance.now();
let result;
try {
  const system = await pul.actorSystem(options);
  result = { joined: true };
  await system.shutdown();
} catch (error) {
  result = { ms: performance.now() - start, name: error.name, code: error.code, runtimeError: error instanceof pul.PulsingRuntimeError, message: error.message };
  await pul.shutdown();
}
result.printed = printed;
process.stdout.write(JSON.stringify(result) + "\\n");
if (process.argv[2] === "exit") process.exit(0);
`;

interface JoinOutcome {
  joined?: true;
  ms?: number;
  name?: string;
  runtimeError?: boolean;
  code?: string;
  message?: string;
  /** What the library printed (console) while joining and shutting down. */
  printed?: string[];
  /** How long the process took to exit after printing (undefined: it had not exited within `exitWithinMs`). */
  exitedAfterMs?: number;
}

async function joinElsewhere(options: pul.ActorSystemOptions, exit: boolean, exitWithinMs = 10_000): Promise<JoinOutcome> {
  const child = spawn(
    process.execPath,
    ["--conditions=pulsing-source", "--import", "tsx", "--input-type=module", "-e", JOIN_SCRIPT, JSON.stringify(options), exit ? "exit" : "stay"],
    { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] },
  );
  const exited = once(child, "exit");
  try {
    let out = "";
    child.stdout.setEncoding("utf8");
    child.stderr.resume();
    const line = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the joining process printed nothing within 30 s: ${out}`)), 30_000);
      child.stdout.on("data", (chunk: string) => {
        out += chunk;
        const newline = out.indexOf("\n");
        if (newline >= 0) {
          clearTimeout(timer);
          resolve(out.slice(0, newline));
        }
      });
      // "close", not "exit": a process that printed and exited at once may be seen to exit before its output is read.
      child.once("close", (code) => (clearTimeout(timer), reject(new Error(`the joining process exited with ${code}: ${out}`))));
    });
    const outcome = JSON.parse(line) as JoinOutcome;
    const printedAt = Date.now();
    const exitedInTime = await Promise.race([exited.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), exitWithinMs))]);
    if (exitedInTime) outcome.exitedAfterMs = Date.now() - printedAt;
    return outcome;
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await exited;
    }
  }
}

/** A TCP port on 127.0.0.1 that nothing listens on (it was free a moment ago). */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Checks a join was refused fast with a PulsingRuntimeError whose message matches `pattern`. */
function assertRefused(outcome: JoinOutcome, pattern: RegExp): string {
  assert.equal(outcome.joined, undefined, "expected a refusal, but the node joined");
  assert.equal(outcome.runtimeError, true, `expected a PulsingRuntimeError, got ${outcome.name}: ${outcome.message}`);
  assert.equal(outcome.code, "ADMISSION_REFUSED", `the refusal's code (${outcome.message})`);
  assert.match(outcome.message!, pattern);
  assert.deepEqual(outcome.printed, [], "a refused node fails and shuts down without printing anything");
  assert.ok(outcome.ms! < FAST_MS, `refused after ${Math.round(outcome.ms!)} ms`);
  return outcome.message!;
}

/** Runs `fn`, expecting a PulsingRuntimeError whose message matches `pattern`; returns how long it took. */
async function rejectsWith(fn: () => Promise<unknown>, pattern: RegExp): Promise<{ ms: number; message: string }> {
  const start = Date.now();
  let caught: unknown;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const hung = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`still pending after ${HANG_MS} ms`)), HANG_MS);
    });
    await Promise.race([fn(), hung]);
  } catch (error) {
    caught = error;
  } finally {
    clearTimeout(timer);
  }
  const ms = Date.now() - start;
  assert.ok(caught !== undefined, "expected a refusal, but it succeeded");
  assert.ok(caught instanceof pul.PulsingRuntimeError, `expected a PulsingRuntimeError, got ${String(caught)}`);
  assert.equal(caught.code, "ADMISSION_REFUSED", `the refusal's code (${caught.message})`);
  assert.match(caught.message, pattern);
  return { ms, message: caught.message };
}

/** The transports of the connections `system` has to `peer`. */
function transportsTo(system: pul.ActorSystem, peer: string): string[] {
  return system.mesh!.node.getConnections(peerIdFromString(peer)).map((c) => (String(c.remoteAddr).includes("/ws") ? "ws" : "tcp"));
}

describe("admission (cluster secret)", () => {
  let secure: ChildNode; // has the secret
  let open: ChildNode; // has none
  const systems = new Set<pul.ActorSystem>();
  const track = async (making: Promise<pul.ActorSystem>): Promise<pul.ActorSystem> => {
    const system = await making;
    systems.add(system);
    return system;
  };
  /** A networked node that never joined: it knows where `node` is (its peer store has `addr`), not its secret. */
  const outsiderOf = async (node: ChildNode, addr: string, passphrase: string | undefined): Promise<pul.ActorSystem> => {
    const outsider = await track(pul.actorSystem({ addr: "127.0.0.1:0", passphrase }));
    await outsider.mesh!.node.peerStore.merge(peerIdFromString(node.nodeId), { multiaddrs: [multiaddr(addr)] });
    return outsider;
  };

  /**
   * Joins in other processes, queued up front (each takes a process start) two at a time — more would load this
   * 2-core machine enough to blur the timings they report — and awaited by the tests.
   */
  const joins = new Map<string, Promise<JoinOutcome>>();
  let slots = 2;
  const waiting: Array<() => void> = [];
  const limited = async <T>(task: () => Promise<T>): Promise<T> => {
    if (slots === 0) await new Promise<void>((resolve) => waiting.push(resolve));
    else slots--;
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next !== undefined) next();
      else slots++;
    }
  };
  const joining = (key: string, options: pul.ActorSystemOptions, exit = true, exitWithinMs?: number): Promise<JoinOutcome> => {
    let outcome = joins.get(key);
    if (outcome === undefined) {
      outcome = limited(() => joinElsewhere(options, exit, exitWithinMs));
      outcome.catch(() => {}); // observed by the test that awaits it
      joins.set(key, outcome);
    }
    return outcome;
  };
  const wrongSecret = (addr: string) => joining(`wrong:${addr}`, { addr: "127.0.0.1:0", seeds: [addr], passphrase: "wrong" });
  const noSecret = (addr: string) => joining(`none:${addr}`, { addr: "127.0.0.1:0", seeds: [addr] });
  const secretToOpen = (addr: string) => joining(`secret:${addr}`, { addr: "127.0.0.1:0", seeds: [addr], passphrase: SECRET });
  let downSeed: string;
  const refusedThenIdle = () =>
    joining("leak", { addr: "127.0.0.1:0", seeds: [tcpAddr(secure), downSeed], passphrase: "wrong" }, false, 5_000);

  before(async () => {
    [secure, open, downSeed] = await Promise.all([
      startNode({ addr: "127.0.0.1:0", passphrase: SECRET }),
      startNode({ addr: "127.0.0.1:0" }),
      closedPort().then((port) => `127.0.0.1:${port}`),
    ]);
    for (const addrOf of [tcpAddr, wsAddr]) {
      void wrongSecret(addrOf(secure));
      void noSecret(addrOf(secure));
      void secretToOpen(addrOf(open));
    }
    void refusedThenIdle();
  });

  after(async () => {
    await Promise.allSettled(joins.values());
    await Promise.allSettled([...systems].map((system) => system.shutdown()));
    await Promise.allSettled([secure?.stop(), open?.stop()]);
  });

  for (const [transport, addrOf] of [
    ["tcp", tcpAddr],
    ["ws", wsAddr],
  ] as const) {
    describe(`over ${transport === "tcp" ? "TCP" : "WebSockets"}`, () => {
      it("admits nodes with the same secret: calls work both ways", async () => {
        // This process joins the secure node (it dials) and calls an actor there.
        const a = await track(pul.actorSystem({ addr: "127.0.0.1:0", seeds: [addrOf(secure)], passphrase: SECRET }));
        assert.ok(transportsTo(a, secure.nodeId).includes(transport), "joined over the seed's transport");
        const remote = (await a.spawn(Counter, { node: secure.nodeId, args: [41] })).asType(Counter);
        assert.equal(await remote.incr(), 42);

        // A second node with the secret joins `a`; each calls an actor of the other.
        const b = await track(pul.actorSystem({ addr: "127.0.0.1:0", seeds: [addrOf(a)], passphrase: SECRET }));
        assert.ok(transportsTo(b, a.nodeId).includes(transport), "joined over the seed's transport");
        const onA = await a.spawn(Counter, { args: [100] });
        const onB = await b.spawn(Counter, { args: [200] });
        const fromB = (await b.refer(String(onA.actorId))).asType(Counter);
        const fromA = (await a.refer(String(onB.actorId))).asType(Counter);
        assert.equal(await fromB.incr(), 101);
        assert.equal(await fromA.incr(), 201);
        assert.equal(await fromB.add(10), 111);
        assert.equal(await fromA.add(10), 211);
        // And b reaches the secure node through a's cluster secret too, on its own connection.
        const viaB = (await b.refer(String(remote.ref.actorId))).asType(Counter);
        await b.mesh!.node.peerStore.merge(peerIdFromString(secure.nodeId), { multiaddrs: [multiaddr(addrOf(secure))] });
        assert.equal(await viaB.incr(), 43);
      });

      it("refuses a wrong secret fast, saying the secrets do not match", async () => {
        const outcome = await wrongSecret(addrOf(secure));
        const message = assertRefused(outcome, /cluster secret \(passphrase\) does not match/);
        assert.ok(message.includes(secure.nodeId), message);
      });

      it("refuses a node without a secret joining a secret cluster, saying one is required", async () => {
        const outcome = await noSecret(addrOf(secure));
        const message = assertRefused(outcome, /requires a cluster secret \(passphrase\) and this node has none/);
        assert.ok(message.includes(secure.nodeId), message);
      });

      it("refuses a node with a secret joining an open node, saying the node has none", async () => {
        const outcome = await secretToOpen(addrOf(open));
        const message = assertRefused(outcome, /has no cluster secret \(passphrase\) but this node has one/);
        assert.ok(message.includes(open.nodeId), message);
      });

      it("lets a refused node reach no actor of the protected node", async () => {
        const spawned = await secure.command({ spawn: { cls: "Counter", name: `guarded-${transport}`, args: [7] } });
        const actorId = spawned.spawned as string;
        assert.ok(actorId.startsWith(`${secure.nodeId}:`), JSON.stringify(spawned));

        for (const passphrase of ["wrong", undefined]) {
          const outsider = await outsiderOf(secure, addrOf(secure), passphrase);
          const guarded = (await outsider.refer(actorId)).asType(Counter);
          const systemActor = await outsider.refer(`${secure.nodeId}:0`);
          const calls = [() => guarded.incr(), () => guarded.get(), () => systemActor.ask("ping"), () => guarded.add(1)];
          for (const [i, call] of calls.entries()) {
            const { ms, message } = await rejectsWith(call, /cannot reach node|lost/);
            assert.ok(message.includes(secure.nodeId), message);
            assert.ok(ms < FAST_MS, `call ${i} refused after ${ms} ms`);
            // The first call is refused by the handshake itself and says why.
            if (i === 0) assert.match(message, passphrase === undefined ? /requires a cluster secret \(passphrase\)/ : /secret \(passphrase\) does not match/);
          }
          await outsider.shutdown();
        }

        // Nothing got through: a member of the cluster sees the counter untouched.
        const member = await track(pul.actorSystem({ addr: "127.0.0.1:0", seeds: [addrOf(secure)], passphrase: SECRET }));
        const counter = (await member.refer(actorId)).asType(Counter).withOptions({ timeout: HANG_MS });
        assert.equal(await counter.get(), 7);
      });
    });
  }

  // Known bug (src/transport/mesh.ts, Mesh.start): when the seeds refuse admission, start() stops the libp2p node
  // and rethrows, but never aborts `#stopped`, so every `#keepSeed` loop keeps going: here the seed that is down
  // is "redialed" forever (NotStartedError from the stopped node, then a backoff timer of up to 5 s, again and
  // again), and that timer keeps a process whose actorSystem()/init() was refused from ever exiting. (With only
  // the refusing seed the loop usually parks on a disconnect event that never comes, so the leak is quieter.)
  it("lets a process whose join was refused exit on its own (no seed redials left running)", async () => {
    const outcome = await refusedThenIdle();
    assertRefused(outcome, /cluster secret \(passphrase\) does not match/);
    assert.notEqual(
      outcome.exitedAfterMs,
      undefined,
      "the process was still running 5 s after actorSystem() was refused: its seeds are still being redialed",
    );
  });

  // Known bug (src/transport/mesh.ts, the `peer:disconnect` listener of Mesh.start, with PeerLink.close): a call
  // made right after a refusal waits in PeerLink while `#open` awaits `node.dial()`; meanwhile the refused
  // connection closes, its `peer:disconnect` reaches `link.close()`, and that fails the waiting call — which never
  // used that connection — with a bare "connection to node … lost" instead of the refusal. Back-to-back calls of
  // a node without the secret hit this window every time here (one of the later three); each should say why.
  it("names the refusal in every call of a refused node, not only the first", async () => {
    const spawned = await secure.command({ spawn: { cls: "Counter", args: [0] } });
    const outsider = await outsiderOf(secure, tcpAddr(secure), undefined);
    try {
      const guarded = (await outsider.refer(spawned.spawned as string)).asType(Counter);
      const systemActor = await outsider.refer(`${secure.nodeId}:0`);
      const calls = [() => guarded.incr(), () => guarded.get(), () => systemActor.ask("ping"), () => guarded.add(1)];
      const messages: string[] = [];
      for (const call of calls) messages.push((await rejectsWith(call, /cannot reach node|lost/)).message);
      for (const message of messages) {
        assert.match(message, /requires a cluster secret \(passphrase\) and this node has none/, messages.join("\n"));
      }
    } finally {
      await outsider.shutdown();
    }
  });
});

// A seed too busy to finish admission within its timeout (a hundred nodes joining through one seed at once on two
// cores) is not a refusal: init() failed with ADMISSION_REFUSED ("timed out"), and a node process whose start
// awaited it died. Here the "seed" takes the admission stream and never answers.
describe("a seed that does not finish admission in time", () => {
  it("is tried again in the background: actorSystem() resolves without it, and fails nothing", async () => {
    const stalling = await rawNode({ listen: true });
    const held: unknown[] = [];
    await stalling.handle(ADMIT_PROTOCOL, (stream) => void held.push(stream));
    const seed = stalling.getMultiaddrs().find((a) => a.toString().startsWith("/ip4/127.0.0.1/tcp/"))!.toString();
    const start = performance.now();
    let system: pul.ActorSystem | undefined;
    try {
      system = await pul.actorSystem({ addr: "127.0.0.1:0", seeds: [seed] });
      assert.ok(performance.now() - start < HANG_MS, "actorSystem() took too long");
      assert.deepEqual(system.members().map((m) => m.nodeId), [system.nodeId]);
      assert.ok(held.length >= 1, "the seed was never asked for admission");
    } finally {
      await system?.shutdown();
      await stalling.stop();
    }
  });
});
