import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import request from 'supertest';
import { SettingsService } from '../../src/settings/settings.service.js';
import { ARTIFACTS, describeWithChromium, launchChromium } from '../support/chromium.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { ADMIN, printedSetupUrl } from './setup-helpers.js';

describeWithChromium('the setup page browser test')('the setup page in Chromium', () => {
  let keel: TestApp;
  let browser: Browser;
  beforeAll(async () => {
    keel = await startTestApp({ completeSetup: false });
    // The page shows the site name (escaped: this one would break unescaped HTML).
    await keel.app.get(SettingsService).update({ siteName: 'Acme <Cloud>' }, 0, null);
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await keel?.close();
  });

  it('opens the URL from the log, shows a server-side error beside its field, completes setup and lands signed in on the console', async () => {
    const printed = printedSetupUrl(keel)!;
    const context = await browser.newContext();
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (message) => {
      // Answers' statuses are the test's business (the 400 below is expected); anything else
      // the console reports (a CSP refusal, a script error) is a problem.
      if (/^Failed to load resource/.test(message.text())) return;
      if (message.type() === 'error' || message.type() === 'warning') problems.push(message.text());
    });
    page.on('response', (response) => {
      if (!response.url().includes('/api/') && response.status() >= 400) {
        problems.push(`${response.status()} ${response.url()}`);
      }
    });
    page.on('pageerror', (error) => problems.push(error.message));

    await page.goto(printed.url);
    await expectHeading(page, 'Set up Acme <Cloud>');
    // The token came from the fragment into the form, and left the address bar.
    await page.waitForFunction('!window.location.hash');
    expect(await page.getByLabel('Setup token').inputValue()).toBe(printed.token);
    expect(page.url()).toBe(`${keel.url}/setup`);

    await page.getByLabel('Username').fill(ADMIN.username);
    await page.getByLabel('Password').fill('too short');
    await page.getByLabel('Session cache').selectOption('database');
    await page.getByRole('button', { name: 'Complete setup' }).click();

    const password = page.getByLabel('Password');
    const passwordError = page.locator('#password-error');
    await passwordError.filter({ hasText: 'password must be 12 to 256 characters' }).waitFor();
    expect(await password.getAttribute('aria-invalid')).toBe('true');
    expect((await password.getAttribute('aria-describedby'))?.split(' ')).toContain(
      'password-error',
    );
    expect(await page.getByRole('status').textContent()).toMatch(/check the fields marked/);
    expect(await page.evaluate('document.activeElement && document.activeElement.id')).toBe(
      'password',
    );
    expect((await request(keel.url).get('/api/setup')).body.required).toBe(true);

    await password.fill(ADMIN.password);
    // The server's answer as it would be had the chosen backend failed (setup completes, the
    // defaults in force, `settings.applied: false`): the page says so before the console.
    await page.route('**/api/setup', async (route) => {
      const answer = await route.fetch();
      const body = (await answer.json()) as Record<string, unknown>;
      await route.fulfill({
        response: answer,
        json: { ...body, settings: { applied: false, error: 'the database went away' } },
      });
    });
    await page.getByRole('button', { name: 'Complete setup' }).click();
    const notApplied = page.getByRole('heading', {
      name: 'Setup is complete, but its settings were not applied',
    });
    await notApplied.waitFor();
    expect(await page.locator('#not-applied').textContent()).toContain('the database went away');
    // The page moves focus on the frame after it renders the notice (requestAnimationFrame).
    await page
      .waitForFunction(
        "document.activeElement && document.activeElement.id === 'not-applied-title'",
        undefined,
        { timeout: 5000 },
      )
      .catch(() => undefined);
    expect(await page.evaluate('document.activeElement && document.activeElement.id')).toBe(
      'not-applied-title',
    );
    expect(await page.locator('form').count()).toBe(0);
    await page.getByRole('link', { name: 'Open the console' }).click();
    // Setup leads to the console, where the new admin is signed in already.
    await page.waitForURL(`${keel.url}/console`);
    await page.getByRole('heading', { name: 'Replicas' }).waitFor();
    expect(await page.locator('main').textContent()).toContain(`Signed in as ${ADMIN.username}`);
    await page.screenshot({ path: join(ARTIFACTS, 'setup-complete.png'), fullPage: true });

    // The browser's session cookie is the admin's session.
    const cookie = (await context.cookies()).find((c) => c.name === 'keel.sid');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' });
    const me = await fetch(`${keel.url}/api/auth/me`, {
      headers: { cookie: `${cookie!.name}=${cookie!.value}` },
    });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { user: unknown }).user).toMatchObject({
      username: ADMIN.username,
      role: 'admin',
    });
    // The chosen backend was applied through the settings (the cache swapped to it).
    const settings = await fetch(`${keel.url}/api/settings`, {
      headers: { cookie: `${cookie!.name}=${cookie!.value}` },
    });
    expect(
      ((await settings.json()) as { values: { sessionCache: unknown } }).values.sessionCache,
    ).toEqual({
      backend: 'database',
    });

    // Afterwards /setup says so, with no form and no script that could redo it: only the way on.
    await page.goto(`${keel.url}/setup`);
    await expectHeading(page, 'Acme <Cloud>');
    expect(await page.textContent('main')).toContain('Setup is complete');
    expect(await page.locator('form, script').count()).toBe(0);
    expect(await page.locator('a').getAttribute('href')).toBe('/console');
    // Nothing was refused by the Content-Security-Policy, and the script threw nothing.
    expect(problems).toEqual([]);
    await context.close();
  });
});

async function expectHeading(page: import('playwright-core').Page, name: string): Promise<void> {
  const heading = page.getByRole('heading', { level: 1 });
  expect(await heading.textContent()).toBe(name);
}
