import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Browser, Page, Route } from 'playwright-core';
import { RedisSessionBackend } from '../../src/session-cache/backends/redis-session.backend.js';
import type { BuiltAppProcess } from '../support/built-app-process.js';
import {
  ARTIFACTS,
  axeViolations,
  countDownloads,
  describeWithChromium,
  launchChromium,
} from '../support/chromium.js';
import { login } from '../support/http-client.js';
import { POSTGRES_URL, REDIS_URL } from '../support/services.js';
import { TEST_PASSWORD } from '../support/signed-in.js';
import {
  call,
  type ServiceCluster,
  startServiceCluster,
  waitUntil,
} from '../scale-out/replica-cluster.js';

// Issue 19, "what it must show": the operator console in Chromium against two real replica
// processes on PostgreSQL and Redis. Needs `npm run build` (the processes and dist/web).

/** Sessions of another user in Redis, so the swap's copy lasts long enough to be watched. */
const SEEDED_SESSIONS = Number(process.env.KEEL_CONSOLE_TEST_SESSIONS ?? 20_000);
/** What the browser downloads for the console, as transferred (gzipped): the limit. */
const MAX_GZIPPED_BYTES = 100 * 1024;

const describeConsole =
  POSTGRES_URL && REDIS_URL ? describeWithChromium('the console browser test') : describe.skip;

describeConsole('the operator console in Chromium, on two replicas', () => {
  let cluster: ServiceCluster;
  let replicas: BuiltAppProcess[] = [];
  let browser: Browser;
  const violations: string[] = [];
  const problems: string[] = [];

  /** axe-core in light and dark; a screenshot of each; violations are collected by state. */
  const checkAccessible = async (page: Page, state: string) => {
    for (const colorScheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme });
      violations.push(
        ...(await axeViolations(page)).map((line) => `${state} (${colorScheme}) ${line}`),
      );
      await page.screenshot({
        path: join(ARTIFACTS, `console-${state}-${colorScheme}.png`),
        fullPage: true,
      });
    }
    await page.emulateMedia({ colorScheme: 'light' });
  };

  const newPage = async (colorScheme: 'light' | 'dark') => {
    const context = await browser.newContext({
      colorScheme,
      viewport: { width: 1200, height: 900 },
    });
    const page = await context.newPage();
    page.on('console', (message) => {
      if (/^Failed to load resource/.test(message.text())) return;
      if (message.type() === 'error' || message.type() === 'warning') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
    return { context, page, downloads: await countDownloads(page) };
  };
  const signIn = async (page: Page, username: string) => {
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(TEST_PASSWORD);
    await page.getByLabel('Password').press('Enter');
  };
  const openConsole = async (url: string, username: string, colorScheme: 'light' | 'dark') => {
    const opened = await newPage(colorScheme);
    await opened.page.goto(`${url}/console`);
    await signIn(opened.page, username);
    return opened;
  };
  const activeId = (page: Page) =>
    page.evaluate<string | null>('document.activeElement && document.activeElement.id');

  /** Tabs forward (the keyboard only) until the element with `id` has the focus. */
  const tabTo = async (page: Page, id: string) => {
    for (let presses = 0; presses < 200; presses++) {
      if ((await activeId(page)) === id) return;
      await page.keyboard.press('Tab');
    }
    throw new Error(`Tab never reached #${id}`);
  };

  beforeAll(async () => {
    cluster = await startServiceCluster(2, 'redis');
    replicas = cluster.replicas;
    await waitUntil('both replicas list each other', async () => {
      const admin = await login(replicas[0]!.url, 'admin', TEST_PASSWORD);
      const runtime = await call<{ instances: unknown[] }>(
        replicas[0]!.url,
        admin,
        'GET',
        '/api/runtime',
      );
      return runtime.body.instances.length === 2;
    });
    const admin = await login(replicas[0]!.url, 'admin', TEST_PASSWORD);
    for (const [username, role] of [
      ['member', 'member'],
      ['crowd', 'member'],
    ]) {
      const created = await call(replicas[0]!.url, admin, 'POST', '/api/users', {
        body: { username, password: TEST_PASSWORD, role },
      });
      expect(created.status).toBe(201);
    }
    await seedSessions(
      cluster.prefix,
      (await login(replicas[0]!.url, 'crowd', TEST_PASSWORD)).userId,
      SEEDED_SESSIONS,
    );
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await cluster?.stop();
  });

  it('signs in, follows a backend swap live on both rows, and shows a concurrent change as a conflict', async () => {
    const [first, second] = replicas.map((replica) => replica.url) as [string, string];
    const { context, page, downloads } = await openConsole(first, 'admin', 'light');
    await waitUntil('both replicas listed on redis', async () => {
      const backends = await page.locator('#replicas tbody tr [data-backend]').allTextContents();
      return backends.length === 2 && backends.every((backend) => backend === 'redis');
    });
    await page.locator('#settings-form').waitFor();
    await page.locator('#users tbody tr').first().waitFor();
    await page.locator('#own-sessions tbody tr').first().waitFor();
    expect(await page.getByRole('status').filter({ hasText: 'Live' }).count()).toBe(1);
    // Signing in moves the focus to the page's heading, where the console begins.
    expect(await activeId(page)).toBe('page-title');
    // Everything this browser downloaded: the page, its script and styles, every API answer
    // (sign-in, the settings, history, users, sessions) and the event stream so far.
    const { total, byUrl } = downloads();
    process.stdout.write(
      `console download: ${(total / 1024).toFixed(1)} kB transferred ${JSON.stringify(byUrl)}\n`,
    );
    expect(total).toBeLessThan(MAX_GZIPPED_BYTES);
    await checkAccessible(page, 'signed-in');

    // A role changes only with its Apply button: an arrow key on the select sends nothing.
    const patches: string[] = [];
    page.on('request', (sent) => void (sent.method() === 'PATCH' && patches.push(sent.url())));
    const memberRole = page.getByLabel('Role of member', { exact: true });
    await memberRole.focus();
    await page.keyboard.press('ArrowUp');
    expect(await memberRole.inputValue()).toBe('admin');
    expect(await page.getByRole('button', { name: 'Apply the role of member' }).isEnabled()).toBe(
      true,
    );
    await page.keyboard.press('ArrowDown');
    expect(patches).toEqual([]);

    // A second browser, on the other replica, renames the site while this form is clean; its
    // new version reaches this console, whose read of it is held until the operator has begun
    // to choose the backend: the form keeps its base and the text, so the save still meets 412.
    const base = await page.locator('#settings-version').textContent();
    let held: Route | undefined;
    let heldNow!: () => void;
    const reading = new Promise<void>((resolve) => (heldNow = resolve));
    await page.route('**/api/settings', async (route) => {
      if (held || route.request().method() !== 'GET') return route.fallback();
      held = route;
      heldNow();
    });
    const other = await openConsole(second, 'admin', 'dark');
    await other.page.locator('#setting-siteName').fill('Renamed meanwhile');
    await other.page.getByRole('button', { name: 'Save settings' }).click();
    await other.page.locator('#settings-status').filter({ hasText: 'Saved' }).waitFor();
    await checkAccessible(other.page, 'second-browser');
    // The second browser keeps an unsaved edit: its replicas are still measured against what
    // is stored, not against its form (checked at the end).
    await other.page.locator('#setting-siteName').fill('Draft, never saved');
    await reading;

    // The keyboard only: to the backend, choose database (typing selects in a focused select).
    await tabTo(page, 'setting-sessionCache-backend');
    await page.keyboard.type('database');
    expect(await page.locator('#setting-sessionCache-backend').inputValue()).toBe('database');
    const answered = page.waitForResponse(
      (answer) => answer.url().endsWith('/api/settings') && answer.request().method() === 'GET',
    );
    await held!.fallback();
    await (await answered).finished();
    await page.unroute('**/api/settings');
    await page.evaluate('new Promise((resolve) => requestAnimationFrame(() => resolve()))');
    expect(await page.locator('#settings-version').textContent()).toBe(base);
    expect(await page.locator('#setting-sessionCache-backend').inputValue()).toBe('database');

    // The first one's save is refused and says what changed; nothing was overwritten.
    await tabTo(page, 'save-settings');
    await page.keyboard.press('Enter');
    const conflict = page.locator('#settings-conflict');
    await conflict.waitFor();
    expect(await conflict.textContent()).toContain('Changed by someone else: reload');
    expect(await conflict.textContent()).toContain('"Renamed meanwhile"');
    const stored = await call<{ values: { siteName: string; sessionCache: { backend: string } } }>(
      first,
      await login(first, 'admin', TEST_PASSWORD),
      'GET',
      '/api/settings',
    );
    expect(stored.body.values).toMatchObject({
      siteName: 'Renamed meanwhile',
      sessionCache: { backend: 'redis' },
    });
    await checkAccessible(page, 'conflict');

    // Reload (focus is in the conflict: Tab reaches its button), choose again, save.
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await conflict.waitFor({ state: 'detached' });
    await tabTo(page, 'setting-sessionCache-backend');
    await page.keyboard.type('database');
    // Every state each replica's row shows from now on, as it appears (no reload).
    await page.evaluate(`(() => {
      window.seen = {};
      const note = () => document.querySelectorAll('#replicas tbody tr').forEach((row) => {
        const state = row.querySelector('[data-swap]')?.getAttribute('data-swap');
        const list = (window.seen[row.dataset.instance] ??= []);
        if (state && list[list.length - 1] !== state) list.push(state);
      });
      new MutationObserver(note).observe(document.getElementById('replicas'), { subtree: true, childList: true, attributes: true, characterData: true });
    })()`);
    await tabTo(page, 'save-settings');
    await page.keyboard.press('Enter');
    await page
      .locator('#settings-status')
      .filter({ hasText: 'Saved' })
      .waitFor({ timeout: 30_000 });
    await waitUntil(
      'both rows show the last swap to database',
      async () => {
        const states = await page
          .locator('#replicas tbody tr [data-swap]')
          .evaluateAll((nodes) =>
            nodes.map((node) => `${node.getAttribute('data-swap')} ${node.textContent}`),
          );
        return (
          states.length === 2 &&
          states.every((state) => /^done Last swap redis → database/.test(state))
        );
      },
      30_000,
    );
    const seen = (await page.evaluate('window.seen')) as Record<string, string[]>;
    expect(Object.keys(seen)).toHaveLength(2);
    for (const states of Object.values(seen)) {
      // The swap moving (the copy's progress, or the handover between replicas), then its end.
      expect(states.some((state) => state === 'progress' || state === 'handover')).toBe(true);
      expect(states[states.length - 1]).toBe('done');
    }
    expect(Object.values(seen).flat()).toContain('progress');
    expect(await page.locator('#replicas tbody tr [data-backend]').allTextContents()).toEqual([
      'database',
      'database',
    ]);
    await page.locator('#settings-history').filter({ hasText: 'sessionCache.backend' }).waitFor();
    await checkAccessible(page, 'after-swap');
    // The second browser, its edit still unsaved, sees both replicas up to date on database.
    await waitUntil('the second browser sees no replica behind', async () => {
      const rows = other.page.locator('#replicas tbody tr');
      const backends = await rows.locator('[data-backend]').allTextContents();
      return (
        backends.join() === 'database,database' &&
        (await other.page.locator('#replicas tbody tr.behind').count()) === 0
      );
    });
    // The picture docs/operations.md shows (copied there by hand): the top of the page, small.
    await page.screenshot({
      path: join(ARTIFACTS, 'console.jpg'),
      type: 'jpeg',
      quality: 70,
      fullPage: true,
      clip: { x: 0, y: 0, width: 1200, height: 720 },
    });

    await other.context.close();
    await context.close();
  });

  it('shows a member "admins only" and no data', async () => {
    const { context, page } = await openConsole(replicas[1]!.url, 'member', 'light');
    await page.getByRole('heading', { name: 'Admins only' }).waitFor();
    expect(await page.locator('table, #settings-form').count()).toBe(0);
    const text = (await page.locator('main').textContent()) ?? '';
    for (const replica of replicas) expect(text).not.toContain(String(replica.child.pid));
    await checkAccessible(page, 'member');
    await context.close();
  });

  it('shows why it cannot start or sign in, instead of a stuck form', async () => {
    const { context, page } = await newPage('light');
    const problem = { statusCode: 503, code: 'setup_required', message: 'Complete setup first' };
    await page.route('**/api/auth/me', (route) => route.fulfill({ status: 503, json: problem }));
    await page.goto(`${replicas[0]!.url}/console`);
    await page.getByRole('heading', { name: 'Setup is not complete' }).waitFor();
    expect(await page.getByRole('link', { name: 'Complete the setup' }).getAttribute('href')).toBe(
      '/setup',
    );
    await checkAccessible(page, 'setup-required');
    await page.unroute('**/api/auth/me');

    await page.reload();
    // A proxy's HTML error page, then no answer at all: each says so, and the form stays usable.
    await page.route('**/api/auth/login', (route) =>
      route.fulfill({ status: 502, contentType: 'text/html', body: '<h1>Bad Gateway</h1>' }),
    );
    await signIn(page, 'member');
    await page.getByRole('status').filter({ hasText: 'The server answered 502' }).waitFor();
    await page.unroute('**/api/auth/login');
    await page.route('**/api/auth/login', (route) => route.abort('connectionfailed'));
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('status').filter({ hasText: 'could not be reached' }).waitFor();
    await page.unroute('**/api/auth/login');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Admins only' }).waitFor();
    await context.close();
  });

  it('keeps the events endpoint closed without a session, the assets gzipped, and the page quiet', async () => {
    const anonymous = await fetch(`${replicas[0]!.url}/api/runtime/events`);
    expect(anonymous.status).toBe(401);
    for (const [encoding, gzipped] of [
      ['gzip, br', true],
      ['gzip;q=0, br', false],
    ] as const) {
      const response = await fetch(`${replicas[0]!.url}/assets/console.js`, {
        headers: { 'accept-encoding': encoding },
      });
      expect(response.headers.get('content-encoding')).toBe(gzipped ? 'gzip' : null);
    }
    expect(violations).toEqual([]);
    expect(problems).toEqual([]);
  });
});

/** `count` signed-in sessions of `userId` written straight into Redis, as sign-in stores them. */
async function seedSessions(prefix: string, userId: string, count: number): Promise<void> {
  const redis = await RedisSessionBackend.connect(REDIS_URL!, prefix);
  try {
    const now = Date.now();
    const hour = 3_600_000;
    for (let start = 0; start < count; start += 500) {
      await Promise.all(
        Array.from({ length: Math.min(500, count - start) }, () =>
          redis.put({
            sid: randomBytes(32).toString('base64url'),
            data: JSON.stringify({
              cookie: {
                originalMaxAge: hour,
                expires: new Date(now + hour),
                httpOnly: true,
                path: '/',
                sameSite: 'lax',
              },
              userId,
              csrfToken: randomBytes(32).toString('base64url'),
              createdAt: now,
              absoluteExpiresAt: now + hour,
            }),
            userId,
            expiresAt: now + hour,
            lastSeenAt: now,
          }),
        ),
      );
    }
  } finally {
    await redis.close();
  }
}
