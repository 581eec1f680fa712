#!/usr/bin/env node
/**
 * The browser end-to-end tests: a Node seed, several Chromium tabs (separate browser contexts) and a Deno node in
 * one cluster, run by Playwright Test (playwright.config.ts: Debian's chromium, list + HTML reporters, a trace kept
 * for a failed test under e2e-results/, the HTML report in e2e-report/).
 *
 * Prepares what they need, installing it when missing: Debian's `chromium` (apt-get, as root), the Deno runtime
 * (the `deno` npm package, into .cache/deno), the package build (Deno runs dist/) and the dashboard build.
 * Tab↔tab WebRTC needs a network interface besides loopback (headless Chromium gathers no ICE candidates on
 * loopback alone), so as root the tests run inside a private network namespace with a veth pair: nothing
 * leaves it.
 *
 *   node e2e/run.mjs              prepare, then run e2e/*.e2e.ts (`playwright test`)
 *   node e2e/run.mjs --no-netns   run on the host network (WebRTC may then fall back to relayed)
 *   node e2e/run.mjs --bench      prepare, then run the browser benchmark (bench/browser.ts) instead of the tests
 *   node e2e/run.mjs --bench=tab-cpu   the same for another benchmark of that environment (BENCHES below)
 *   node e2e/run.mjs <args>       any other argument goes to `playwright test` (`--trace on`, `--reporter dot`, …;
 *                                 npm run test:e2e -- --trace on)
 *
 * After a build, `npx playwright test` runs the same tests directly, on the host network.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const CHROMIUM = "/usr/bin/chromium";
const DENO_VERSION = "2.9.6";
const denoDir = join(root, ".cache/deno");
const denoBin = join(denoDir, "node_modules/.bin/deno");
const inNamespace = process.env.PULSING_E2E_NETNS === "1";
const args = process.argv.slice(2);
const OWN_FLAGS = ["--no-netns", "--bench"];
/** The benchmarks `--bench=<name>` runs (plain `--bench`: "browser"). */
const BENCHES = { browser: "bench/browser-main.ts", "tab-cpu": "bench/tab-cpu.ts", "web-worker": "bench/web-worker.ts" };
const isOwn = (a) => OWN_FLAGS.includes(a) || a.startsWith("--bench=");
const ownArgs = args.filter(isOwn);
const playwrightArgs = args.filter((a) => !isOwn(a) && a !== "--");
const benchArg = ownArgs.find((a) => a === "--bench" || a.startsWith("--bench="));
const benchName = benchArg === undefined ? undefined : benchArg === "--bench" ? "browser" : benchArg.slice("--bench=".length);
if (benchName !== undefined && !Object.hasOwn(BENCHES, benchName)) {
  console.error(`✖ no benchmark "${benchName}" (one of: ${Object.keys(BENCHES).join(", ")})`);
  process.exit(1);
}

const step = (what) => console.log(`› ${what}`);
const run = (cmd, cmdArgs, options = {}) => {
  const result = spawnSync(cmd, cmdArgs, { cwd: root, stdio: "inherit", ...options });
  if (result.status !== 0) {
    console.error(`✖ ${cmd} ${cmdArgs.join(" ")} failed (${result.status ?? result.signal})`);
    process.exit(result.status ?? 1);
  }
};
const isRoot = typeof process.getuid === "function" && process.getuid() === 0;

if (!inNamespace) {
  if (!existsSync(CHROMIUM)) {
    if (!isRoot) {
      console.error(`✖ ${CHROMIUM} is missing and this is not root: install Debian's chromium (apt-get install -y chromium)`);
      process.exit(1);
    }
    step("installing Debian chromium (apt-get)");
    run("apt-get", ["update", "-qq"]);
    run("apt-get", ["install", "-y", "-qq", "chromium"], { env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  }
  if (!existsSync(denoBin)) {
    step(`installing the Deno runtime (npm package deno@${DENO_VERSION}) into .cache/deno`);
    mkdirSync(denoDir, { recursive: true });
    writeFileSync(join(denoDir, "package.json"), '{ "private": true }\n');
    run("npm", ["install", "--no-audit", "--no-fund", "--no-package-lock", `deno@${DENO_VERSION}`], { cwd: denoDir });
  }
  step("building the package (Deno runs dist/)");
  run(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"]);
  step("building the dashboard (vite)");
  run(process.execPath, [join(root, "node_modules/vite/bin/vite.js"), "build", "--logLevel", "warn"]);

  const wantNetns = !ownArgs.includes("--no-netns");
  const canNetns = isRoot && hasCommand("unshare") && hasCommand("ip");
  if (wantNetns && canNetns) {
    step("re-running inside a private network namespace (veth pair 10.77.0.1 ⇄ 10.77.0.2)");
    const script = [
      "set -e",
      "ip link set lo up",
      "ip link add v0 type veth peer name v1",
      "ip addr add 10.77.0.1/24 dev v0",
      "ip addr add 10.77.0.2/24 dev v1",
      "ip link set v0 up",
      "ip link set v1 up",
      "ip route add default dev v0",
      `exec "${process.execPath}" "${join(root, "e2e/run.mjs")}" ${args.map(shellQuote).join(" ")}`,
    ].join("; ");
    run("unshare", ["-n", "bash", "-c", script], { env: { ...process.env, PULSING_E2E_NETNS: "1" } });
    process.exit(0);
  }
  if (wantNetns) console.warn("! not root or no unshare/ip: running on the host network; tab↔tab WebRTC may not connect");
}

if (benchName !== undefined) {
  step(`browser benchmark (${BENCHES[benchName]})`);
  run(process.execPath, ["--conditions=pulsing-source", "--import", "tsx", join(root, BENCHES[benchName])]);
  process.exit(0);
}

step("browser end-to-end tests (playwright test)");
run(process.execPath, [join(root, "node_modules/@playwright/test/cli.js"), "test", ...playwrightArgs]);

function hasCommand(name) {
  try {
    execFileSync("sh", ["-c", `command -v ${name}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

function shellQuote(arg) {
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}
