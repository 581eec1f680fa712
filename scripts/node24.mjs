#!/usr/bin/env node
/**
 * `npm run test:node24`: the unit suite on Node 24 (the LTS line), whatever Node runs this script.
 *
 * Node 24 comes from the npm registry, the `node-<platform>-<arch>` package of the official binary, installed into
 * .cache/node24 when missing (checked on linux-x64). Its bin/ goes first on PATH, so the suite's children (`node`,
 * `npm` with its `#!/usr/bin/env node`) run on it too.
 *
 *   node scripts/node24.mjs                        type-check and the unit suite (scripts/test.mjs --unit)
 *   node scripts/node24.mjs test/api.test.ts       only the named files
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { delimiter, join } from "node:path";

const MAJOR = "24";
const root = new URL("..", import.meta.url).pathname;
const dir = join(root, `.cache/node${MAJOR}`);
const platform = process.platform === "win32" ? "win" : process.platform;
const pkg = `node-${platform}-${process.arch}`;
const binDir = join(dir, "node_modules", pkg, "bin");
const node = join(binDir, process.platform === "win32" ? "node.exe" : "node");

const run = (cmd, args, options = {}) => {
  const result = spawnSync(cmd, args, { cwd: root, stdio: "inherit", ...options });
  if (result.status !== 0) {
    console.error(`✖ ${cmd} ${args.join(" ")} failed (${result.status ?? result.signal})`);
    process.exit(result.status ?? 1);
  }
};

if (!existsSync(node)) {
  console.log(`› installing Node ${MAJOR} (npm package ${pkg}@${MAJOR}) into .cache/node${MAJOR}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "package.json"), '{ "private": true }\n');
  run("npm", ["install", "--no-audit", "--no-fund", "--no-package-lock", `${pkg}@${MAJOR}`], { cwd: dir });
}

const version = spawnSync(node, ["--version"], { encoding: "utf8" }).stdout?.trim() ?? "";
if (!version.startsWith(`v${MAJOR}.`)) {
  console.error(`✖ ${node} is not Node ${MAJOR} (it says '${version}'): remove .cache/node${MAJOR} and run again`);
  process.exit(1);
}
console.log(`› the unit suite on Node ${version}`);
const args = process.argv.slice(2);
run(node, [join(root, "scripts/test.mjs"), ...(args.length > 0 ? args : ["--unit"])], {
  env: { ...process.env, PATH: `${binDir}${delimiter}${process.env.PATH ?? ""}` },
});
