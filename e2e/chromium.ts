/**
 * Debian's Chromium (nothing here can download a browser) and the flags it runs with, for the Playwright Test
 * config (playwright.config.ts) and the plain harness the browser benchmark uses (e2e/harness.ts).
 */
export const CHROMIUM_PATH = "/usr/bin/chromium";

/** Headless, and no background networking: nothing but the pages' own traffic. */
export const CHROMIUM_ARGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
