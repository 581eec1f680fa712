/** Entry for `node e2e/run.mjs --bench` (inside the e2e environment). */
import { benchBrowser } from "./browser.js";

await benchBrowser();
process.exit(0);
