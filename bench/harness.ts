/**
 * Tiny benchmark harness: each measurement runs a few rounds after a warm-up and keeps the median, and every
 * result is printed next to its floor from the same run as a ratio (this machine is noisy; ratios travel).
 */
export interface Rate {
  name: string;
  /** operations per second, median of the rounds */
  perSecond: number;
}

export async function measure(name: string, ops: number, body: (ops: number) => Promise<void>, rounds = 5): Promise<Rate> {
  await body(Math.max(1, Math.floor(ops / 5))); // warm-up
  const rates: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    await body(ops);
    rates.push(ops / ((performance.now() - start) / 1000));
  }
  rates.sort((a, b) => a - b);
  return { name, perSecond: rates[Math.floor(rates.length / 2)]! };
}

/** Latencies in ms of `ops` sequential runs of `once`; returns median and p99. */
export async function latencies(ops: number, once: () => Promise<unknown>): Promise<{ median: number; p99: number }> {
  for (let i = 0; i < Math.min(200, ops); i++) await once();
  const samples = new Float64Array(ops);
  for (let i = 0; i < ops; i++) {
    const t = performance.now();
    await once();
    samples[i] = performance.now() - t;
  }
  samples.sort();
  return { median: samples[Math.floor(ops / 2)]!, p99: samples[Math.floor(ops * 0.99)]! };
}

/** Keeps `inFlight` operations running until `ops` have completed. */
export async function pipelined(ops: number, inFlight: number, once: () => Promise<unknown>): Promise<void> {
  let started = 0;
  const lane = async (): Promise<void> => {
    while (started < ops) {
      started++;
      await once();
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, ops) }, lane));
}

export function fmtRate(perSecond: number): string {
  return perSecond >= 1e6 ? `${(perSecond / 1e6).toFixed(2)} M/s` : `${(perSecond / 1e3).toFixed(1)} k/s`;
}

export function table(title: string, rows: Array<[string, string, string]>): void {
  console.log(`\n${title}`);
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const row of rows) console.log(`  ${row.map((cell, i) => cell.padEnd(widths[i]!)).join("   ")}`);
}

/** A latency for tables: µs below a millisecond (where loopback RTTs live), ms above. */
export function fmtMs(ms: number): string {
  return ms >= 1 ? `${ms.toFixed(2)} ms` : `${(ms * 1000).toFixed(0)} µs`;
}

/**
 * `work`, or a rejection once `ms` have passed: a benchmark that talks to another process must end even when
 * that process hangs. (The work itself is not stopped; the caller tears down what it runs on.)
 */
export async function within<T>(ms: number, what: string, work: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${Math.round(ms)} ms`)), Math.max(0, ms));
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}
