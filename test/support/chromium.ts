import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';

// Debian's chromium (playwright-core downloads no browser here); .ci/run installs it.
export const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** Screenshots of the browser tests (git-ignored). */
export const ARTIFACTS = join(import.meta.dirname, '..', '..', 'test-artifacts');
export const haveChromium = existsSync(CHROMIUM);

/**
 * `describe` for a browser suite: skipped with a line when chromium is missing, except on CI
 * (CI=true), where its absence fails the suite.
 */
export function describeWithChromium(what: string): jest.Describe {
  const ci = process.env.CI === 'true';
  if (!haveChromium && !ci) {
    process.stdout.write(`\n${CHROMIUM} not found: ${what} is skipped\n`);
    return describe.skip;
  }
  return describe;
}

export async function launchChromium(): Promise<Browser> {
  if (!haveChromium) throw new Error(`CI=true but ${CHROMIUM} is missing: install chromium`);
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

const AXE_SOURCE = readFileSync(
  createRequire(import.meta.url).resolve('axe-core/axe.min.js'),
  'utf8',
);

/**
 * axe-core's violations on the page as it is now, as `rule: target` lines. Injected by
 * `evaluate` (Keel's CSP refuses a script tag that is not same-origin), once per document.
 */
export async function axeViolations(page: Page): Promise<string[]> {
  if (!(await page.evaluate('typeof window.axe !== "undefined"'))) {
    await page.evaluate(AXE_SOURCE);
  }
  // A string: the test project has no DOM types (the page's `axe` global is not Node's).
  return page.evaluate<string[]>(
    `axe.run().then(({ violations }) => violations.flatMap((violation) =>
      violation.nodes.map((node) => violation.id + ': ' + node.target.join(' '))))`,
  );
}

/**
 * What `page` downloads from now on, as the network counts it (Chrome DevTools Protocol):
 * headers and bodies as transferred, so gzipped where the answer was gzipped. A request still
 * in flight (an event stream) counts what has arrived so far. Attach before `goto`.
 */
export async function countDownloads(
  page: Page,
): Promise<() => { total: number; byUrl: Record<string, number> }> {
  const cdp = await page.context().newCDPSession(page);
  const urls = new Map<string, string>();
  const bytes = new Map<string, number>();
  cdp.on('Network.requestWillBeSent', (event) => urls.set(event.requestId, event.request.url));
  cdp.on('Network.dataReceived', (event) =>
    bytes.set(event.requestId, (bytes.get(event.requestId) ?? 0) + event.encodedDataLength),
  );
  // Chrome may count a stream's bytes late: its messages as they arrive are the floor.
  const messages = new Map<string, number>();
  cdp.on('Network.eventSourceMessageReceived', (event) =>
    messages.set(
      event.requestId,
      (messages.get(event.requestId) ?? 0) + event.eventName.length + event.data.length + 16,
    ),
  );
  // The whole answer, headers included: replaces the chunks counted so far.
  cdp.on('Network.loadingFinished', (event) => bytes.set(event.requestId, event.encodedDataLength));
  await cdp.send('Network.enable');
  return () => {
    const byUrl: Record<string, number> = {};
    let total = 0;
    for (const id of new Set([...bytes.keys(), ...messages.keys()])) {
      const count = Math.max(bytes.get(id) ?? 0, messages.get(id) ?? 0);
      const url = new URL(urls.get(id) ?? 'unknown:').pathname;
      byUrl[url] = (byUrl[url] ?? 0) + count;
      total += count;
    }
    return { total, byUrl };
  };
}
