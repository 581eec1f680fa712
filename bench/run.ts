/**
 * `npm run bench`: every benchmark, each printed next to its floor from the same run.
 *   npm run bench -- local      only the named groups (local, remote, cluster)
 * The cluster group includes a one-minute run with a CPU-busy node.
 */
import { benchCluster } from "./cluster.js";
import { benchLocal } from "./local.js";
import { benchRemote } from "./remote.js";

const groups: Record<string, () => Promise<void>> = {
  local: benchLocal,
  remote: benchRemote,
  cluster: () => benchCluster(),
};

const wanted = process.argv.slice(2);
for (const [name, run] of Object.entries(groups)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  await run();
}
