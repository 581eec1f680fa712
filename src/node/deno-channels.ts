/**
 * Deno's `BroadcastChannel` has no `unref()`. libp2p's peer store locks peers' records with `mortice`, which opens
 * a `BroadcastChannel` (once per process, for lock requests from other threads) and unrefs it so that it never keeps
 * the process alive; under Deno the call failed quietly and a networked program did not exit after `shutdown()`.
 *
 * On Deno, `unref()` is given to `BroadcastChannel` here: it remembers the channel, and once the last node of this
 * process has stopped, the remembered channels are closed. (Closing them at once would be wrong: an unref'd channel
 * still works while its owner runs. mortice keeps its closed channel for later nodes of the process; the peer
 * store's locks never use it: they are single-process, answered in this thread.) Elsewhere nothing changes.
 */
const unrefd = new Set<BroadcastChannel>();
let running = 0;

/** A node starts on Deno: returns what to call once it has stopped (idempotent). */
export function holdUnrefdChannels(): () => void {
  giveUnref();
  running++;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--running > 0) return;
    for (const channel of unrefd) channel.close();
    unrefd.clear();
  };
}

function giveUnref(): void {
  const prototype = (globalThis as { BroadcastChannel?: { prototype: object } }).BroadcastChannel?.prototype;
  if (prototype === undefined || "unref" in prototype) return;
  Object.defineProperty(prototype, "unref", {
    value(this: BroadcastChannel): void {
      unrefd.add(this);
    },
    configurable: true,
    writable: true,
  });
}
