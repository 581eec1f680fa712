import { createInterface } from "node:readline";

/**
 * A child process's commands: one JSON object per line of its stdin, each handed to `handle` as it arrives (not
 * awaited: commands may run concurrently). `onEnd` runs when stdin closes (the parent stopped it, or died).
 */
export function onStdinCommands(handle: (command: Record<string, unknown>) => unknown, onEnd: () => void): void {
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  lines.on("line", (line) => {
    if (line.trim() !== "") void handle(JSON.parse(line) as Record<string, unknown>);
  });
  lines.on("close", onEnd);
}
