/**
 * Runs `fn` in a later macrotask: after the current one and everything it queued as microtasks, which is the
 * moment to flush what a burst of work produced. `setImmediate` where it exists (Node, Deno); elsewhere a
 * MessageChannel message (browsers clamp nested `setTimeout(0)` to 4 ms).
 */
export const nextMacrotask: (fn: () => void) => void =
  typeof setImmediate === "function"
    ? (fn) => void setImmediate(fn)
    : (() => {
        const channel = new MessageChannel();
        const queue: Array<() => void> = [];
        channel.port1.onmessage = () => queue.shift()?.();
        return (fn: () => void) => {
          queue.push(fn);
          channel.port2.postMessage(null);
        };
      })();
