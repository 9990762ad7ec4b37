import { DatabaseService } from '../../src/database/database.service.js';
import type { SetupStateTable } from '../../src/database/schema.js';
import type { TestApp } from '../support/test-app.js';

/** An admin account a setup request can create. */
export const ADMIN = { username: 'root', password: 'a long enough passphrase' };

const SETUP_URL_WITH_TOKEN = /^(http:\/\/\S+\/setup)#token=([A-Za-z0-9_-]+)$/;

/** The ready-to-open URL the app printed (its line's `setupUrl`; undefined if none), its token. */
export function printedSetupUrl(
  keel: Pick<TestApp, 'logs'>,
): { url: string; page: string; token: string } | undefined {
  for (const line of keel.logs) {
    const match = SETUP_URL_WITH_TOKEN.exec(String(line.setupUrl));
    if (match) return { url: match[0], page: match[1], token: match[2] };
  }
  return undefined;
}

export function printedToken(keel: Pick<TestApp, 'logs'>): string {
  const printed = printedSetupUrl(keel);
  if (!printed) throw new Error('the app printed no setup URL');
  return printed.token;
}

export function setupRow(keel: TestApp): Promise<SetupStateTable> {
  return keel.app
    .get(DatabaseService)
    .db.selectFrom('setup_state')
    .selectAll()
    .executeTakeFirstOrThrow();
}

export async function userCount(keel: TestApp): Promise<number> {
  const row = await keel.app
    .get(DatabaseService)
    .db.selectFrom('users')
    .select((eb) => eb.fn.countAll<number | string>().as('users'))
    .executeTakeFirstOrThrow();
  return Number(row.users);
}

export function logText(keel: Pick<TestApp, 'logs'>): string {
  return keel.logs.map((line) => JSON.stringify(line)).join('\n');
}
