/**
 * `pulsing/node`: the Node-only parts — seeds with the dashboard, identities on disk, the CLI.
 * @packageDocumentation
 */
import "../util/polyfills.js";

export { startSeed } from "./seed.js";
export type { DashboardOptions, Seed, SeedOptions } from "./seed.js";
export { generatePrivateKey, loadOrCreatePrivateKey } from "./identity.js";
