/**
 * The browsers the benchmark pages and the browser tests run in: where to find them and how
 * Chromium is started. One list, shared by bench/browser/ and test/.
 */
import { existsSync } from "node:fs";

export type BrowserName = "chromium" | "firefox";

export const BROWSERS: Record<BrowserName, { env: string; candidates: string[]; install: string }> = {
  chromium: { env: "CHROMIUM_BIN", candidates: ["/usr/bin/chromium", "/usr/bin/chromium-browser"], install: "apt-get install chromium" },
  firefox: { env: "FIREFOX_BIN", candidates: ["/usr/bin/firefox-esr", "/usr/bin/firefox"], install: "apt-get install firefox-esr" },
};

/** The browser's executable: $CHROMIUM_BIN / $FIREFOX_BIN, else the first Debian path that exists. */
export function findBrowser(name: BrowserName): string | undefined {
  const { env, candidates } = BROWSERS[name];
  return process.env[env] || candidates.find((p) => existsSync(p));
}

/** Headless, as root, on a machine whose network is closed (no background connections). */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
