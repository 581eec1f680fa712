/**
 * The module of the dashboard's Web Worker nodes (`spawnWorkers` in panels/workers.ts): it registers the demo's
 * actor classes, so that any node can spawn them here, and joins the tab's cluster over the worker's port.
 */
import "../examples/demo-actors.js";
import { initInsideWorker } from "pulsing/node";

await initInsideWorker();
