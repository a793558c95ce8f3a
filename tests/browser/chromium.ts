// Debian's chromium driven by playwright-core: no browser download, the
// distribution's package (`apt-get install chromium`; .ci/run installs it).
import { existsSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const SCREENSHOTS = path.resolve(import.meta.dirname, "../../test-results/screenshots");
/** The README's pictures: refreshed by `npm run screenshots` (README_SCREENSHOTS=1), committed. */
export const README_SCREENSHOTS = path.resolve(import.meta.dirname, "../../docs/screenshots");

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `no Chromium at ${CHROMIUM}: install Debian's package (apt-get install chromium) or set CHROMIUM_PATH`,
    );
  }
  // playwright gives every launch a fresh temporary profile (--user-data-dir).
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      // Ten tabs of one test stay as lively as one (a hidden tab's timers are otherwise slowed).
      "--disable-background-timer-throttling",
      "--disable-renderer-backgrounding",
    ],
  });
}

/**
 * Saves a full-page screenshot as test-results/screenshots/<name>.png (a CI
 * artifact); with `readme`, also as docs/screenshots/<name>.png when
 * README_SCREENSHOTS=1, so the README's pictures come from the same run.
 */
export async function screenshot(page: Page, name: string, options: { readme?: boolean } = {}): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
  if (options.readme && process.env.README_SCREENSHOTS === "1") {
    mkdirSync(README_SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: path.join(README_SCREENSHOTS, `${name}.png`), fullPage: true });
  }
}

const AXE = createRequire(import.meta.url).resolve("axe-core/axe.min.js");

interface AxeResult {
  violations: {
    id: string;
    impact: string | null;
    help: string;
    nodes: { target: unknown[]; failureSummary?: string }[];
  }[];
}

/**
 * The page's accessibility violations by axe-core (injected from
 * node_modules: nothing is fetched), every rule axe runs by default (WCAG 2
 * A and AA, best practices), described one per line; empty when there are none.
 */
export async function axeViolations(page: Page): Promise<string[]> {
  if (!(await page.evaluate("typeof window.axe !== 'undefined'"))) await page.addScriptTag({ path: AXE });
  const result = await page.evaluate<AxeResult>("window.axe.run(document, { resultTypes: ['violations'] })");
  return result.violations.flatMap((v) =>
    v.nodes.map(
      (n) =>
        `${v.impact ?? "?"} ${v.id}: ${v.help} at ${JSON.stringify(n.target)}${n.failureSummary ? ` (${n.failureSummary.replace(/\s+/g, " ")})` : ""}`,
    ),
  );
}

/** document width beyond the viewport, in CSS pixels: more than 0 means the page scrolls sideways. */
export function horizontalOverflow(page: Page): Promise<number> {
  return page.evaluate<number>("document.documentElement.scrollWidth - document.documentElement.clientWidth");
}
