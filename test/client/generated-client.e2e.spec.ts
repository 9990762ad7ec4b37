import { readFileSync } from 'node:fs';
import type { Middleware } from 'openapi-fetch';
import request from 'supertest';
import { DOCS_JSON_PATH } from '../../src/openapi/docs-paths.js';
import { TEST_PASSWORD } from '../support/signed-in.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { DocumentValidator } from './document-validator.js';
import { keelClient } from './keel-client.js';

// A frontend's whole life with Keel, through the client generated from Keel's own document
// (openapi-typescript + openapi-fetch; test/client/generated/, made by `npm run api:client`):
// setup, sign-in, settings with If-Match, users, own sessions, a password change, logout.
// Each call checks the status it expects, and every answer is validated against the document
// (status documented, body valid with no undeclared field, required headers present). The
// calls type-check under `strict` with no casts: `npm run typecheck` covers this file.

const SETUP_TOKEN = 'client-test-setup-token-0123456789abcdef';
const ADMIN = { username: 'root', password: 'a long enough passphrase' };
const MEMBER = { username: 'mia', password: 'another long passphrase' };
const generated = new URL('./generated/openapi.json', import.meta.url);

/** The value, which the test expects to be there (no non-null assertion, no cast). */
function present<T>(value: T | null | undefined, what: string): T {
  if (value === null || value === undefined) throw new Error(`expected ${what}`);
  return value;
}

/** Takes `name` out of every answer, as a server that stopped sending it would. */
function withoutHeader(name: string): Middleware {
  return {
    onResponse({ response }) {
      if (!response.headers.has(name)) return undefined;
      const headers = new Headers(response.headers);
      headers.delete(name);
      return new Response(response.body, {
        status: response.status,
        statusText: response.statusText,
        headers,
      });
    },
  };
}

/** The first event of a server-sent event stream (its `event` and `data`), then cancels it. */
async function firstEvent(body: ReadableStream<Uint8Array>): Promise<Record<string, string>> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the stream ended before an event: ${text}`);
      text += value;
      const block = text.split('\n\n').find((part) => part.includes('data: '));
      if (block) {
        return Object.fromEntries(
          block
            .split('\n')
            .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 2)]),
        );
      }
    }
  } finally {
    await reader.cancel();
  }
}

describe('a client generated from the OpenAPI document', () => {
  let keel: TestApp;
  let validator: DocumentValidator;
  let served: Record<string, unknown>;

  beforeAll(async () => {
    keel = await startTestApp({ completeSetup: false, env: { SETUP_TOKEN } });
    served = (await request(keel.url).get(DOCS_JSON_PATH).expect(200)).body as Record<
      string,
      unknown
    >;
    validator = new DocumentValidator(served);
  });

  afterAll(async () => {
    await keel?.close();
  });

  it('was generated from the document the server serves', () => {
    expect(JSON.parse(readFileSync(generated, 'utf8'))).toEqual(served);
  });

  it('drives setup, settings, users, own sessions, a password change and logout', async () => {
    const admin = keelClient(keel.url, validator.middleware());

    // First run: only setup answers.
    expect((await admin.GET('/api/setup')).data).toEqual({ required: true });
    const gated = await admin.GET('/api/auth/me');
    expect(gated.response.status).toBe(503);
    expect(gated.error?.code).toBe('setup_required');
    const wrongToken = await admin.POST('/api/setup', {
      body: { token: 'not-the-token-at-all-0000000000', admin: ADMIN },
    });
    expect(wrongToken.error?.code).toBe('setup_token_invalid');
    const setup = await admin.POST('/api/setup', {
      body: { token: SETUP_TOKEN, admin: ADMIN, settings: { siteName: 'Acme' } },
    });
    expect(setup.response.status).toBe(201);
    expect(setup.data?.user.username).toBe(ADMIN.username);
    expect(setup.data?.settings).toEqual({ applied: true });
    expect((await admin.GET('/api/auth/me')).data?.user.role).toBe('admin');

    // Settings: read, change under If-Match (as a merge patch), a stale change, history.
    const settings = await admin.GET('/api/settings');
    const etag = present(settings.response.headers.get('ETag'), 'an ETag');
    expect(etag).toBe('"1"');
    expect(settings.data?.sources.siteName).toBe('override');
    const changed = await admin.PATCH('/api/settings', {
      params: { header: { 'If-Match': etag } },
      headers: { 'Content-Type': 'application/merge-patch+json' },
      body: { values: { session: { idleTimeoutSeconds: 900 }, siteName: null } },
    });
    expect(changed.response.status).toBe(200);
    expect(changed.data?.values.session.idleTimeoutSeconds).toBe(900);
    expect(changed.data?.values.siteName).toBe('Keel');
    expect(changed.data?.sources['session.idleTimeoutSeconds']).toBe('override');
    const stale = await admin.PATCH('/api/settings', {
      params: { header: { 'If-Match': etag } },
      body: { values: { siteName: 'Too late' } },
    });
    expect(stale.response.status).toBe(412);
    expect(stale.error?.code).toBe('version_conflict');
    expect(stale.response.headers.get('ETag')).toBeNull();
    const anyVersion = await admin.PATCH('/api/settings', {
      params: { header: { 'If-Match': '*' } },
      body: { values: { auth: { loginMaxAttempts: 20 } } },
    });
    expect(anyVersion.data?.version).toBe(3);
    const history = await admin.GET('/api/settings/history', { params: { query: { limit: 2 } } });
    expect(history.data?.map((entry) => entry.version)).toEqual([3, 2]);

    // Users.
    const created = await admin.POST('/api/users', { body: { ...MEMBER, role: 'member' } });
    expect(created.response.status).toBe(201);
    const memberId = present(created.data, 'the new user').id;
    const taken = await admin.POST('/api/users', { body: { ...MEMBER, role: 'member' } });
    expect(taken.error?.code).toBe('username_taken');
    const updated = await admin.PATCH('/api/users/{id}', {
      params: { path: { id: memberId } },
      body: { email: 'mia@example.com' },
    });
    expect(updated.data?.email).toBe('mia@example.com');
    expect((await admin.GET('/api/users')).data?.map((user) => user.username).sort()).toEqual([
      'mia',
      'root',
    ]);

    // The member signs in on two devices; one of them ends the other's session.
    const phone = keelClient(keel.url, validator.middleware());
    const laptop = keelClient(keel.url, validator.middleware());
    for (const device of [phone, laptop]) {
      expect((await device.POST('/api/auth/login', { body: MEMBER })).response.status).toBe(200);
    }
    const forbidden = await phone.GET('/api/users');
    expect(forbidden.error?.code).toBe('forbidden');
    const sessions = await phone.GET('/api/auth/sessions');
    expect(sessions.data).toHaveLength(2);
    const other = present(
      sessions.data?.find((session) => !session.current),
      'the other session',
    );
    const revoked = await phone.DELETE('/api/auth/sessions/{id}', {
      params: { path: { id: other.id } },
    });
    expect(revoked.response.status).toBe(204);
    expect((await laptop.GET('/api/auth/me')).error?.code).toBe('unauthenticated');

    // A password change keeps this session and ends the others.
    await laptop.POST('/api/auth/login', { body: MEMBER });
    const wrongCurrent = await phone.POST('/api/auth/password', {
      body: { currentPassword: 'not my password at all', newPassword: 'a brand new passphrase' },
    });
    // Errors narrow by status: only a 400 has `fields`.
    const refused = wrongCurrent.error;
    expect(refused?.statusCode === 400 && refused.fields?.map((field) => field.field)).toEqual([
      'currentPassword',
    ]);
    const changedPassword = await phone.POST('/api/auth/password', {
      body: { currentPassword: MEMBER.password, newPassword: 'a brand new passphrase' },
    });
    expect(changedPassword.response.status).toBe(204);
    expect((await phone.GET('/api/auth/me')).data?.user.username).toBe('mia');
    expect((await laptop.GET('/api/auth/me')).response.status).toBe(401);

    // Runtime state, then logout and the member's removal.
    const runtime = await admin.GET('/api/runtime');
    expect(runtime.data?.phase).toBe('ready');
    expect(runtime.data?.sessionCache.lastSwap).toBeNull();
    // The console's live events: the stream opens with the same report; the server keeps it
    // open, so the client cancels it once it has the first event.
    const events = await admin.GET('/api/runtime/events', { parseAs: 'stream' });
    expect(events.response.status).toBe(200);
    const first = await firstEvent(present(events.response.body, 'an event stream'));
    expect(first.event).toBe('runtime');
    expect((JSON.parse(first.data) as { instanceId: unknown }).instanceId).toBe(
      runtime.data?.instanceId,
    );
    expect((await phone.POST('/api/auth/logout')).response.status).toBe(204);
    expect((await phone.GET('/api/auth/me')).response.status).toBe(401);
    const deleted = await admin.DELETE('/api/users/{id}', { params: { path: { id: memberId } } });
    expect(deleted.response.status).toBe(204);
    const gone = await admin.DELETE('/api/users/{id}', { params: { path: { id: memberId } } });
    expect(gone.error?.code).toBe('not_found');

    expect(validator.checked.length).toBeGreaterThanOrEqual(30);
    expect(validator.problems).toEqual([]);
  });

  it('would catch an answer the document does not describe', async () => {
    // Its own install, set up with an admin: this test needs nothing the others did.
    const own = await startTestApp({ admin: true });
    try {
      // The same document with a field and a status taken out, and an answer with a required
      // header taken out: each must now be reported, or the checks above prove nothing.
      const strict = structuredClone(served) as {
        components: { schemas: Record<string, { properties: Record<string, unknown> }> };
        paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
      };
      delete strict.components.schemas.SettingsResponse!.properties.sources;
      delete strict.paths['/api/settings']!.patch!.responses['412'];
      const checker = new DocumentValidator(strict);
      // Registered last, so it sees each answer before the checker does.
      const client = keelClient(own.url, checker.middleware(), withoutHeader('ETag'));
      await client.POST('/api/auth/login', {
        body: { username: 'admin', password: TEST_PASSWORD },
      });
      await client.GET('/api/settings');
      await client.PATCH('/api/settings', {
        params: { header: { 'If-Match': '"7"' } },
        body: { values: { siteName: 'Stale' } },
      });
      expect(checker.problems).toEqual([
        'GET /api/settings -> 200: required header ETag missing',
        expect.stringMatching(/^GET \/api\/settings -> 200: .*must NOT have additional properties/),
        'PATCH /api/settings -> 412: status not documented',
      ]);
    } finally {
      await own.close();
    }
  });

  it('gets answers that validate from the probes and the CSRF endpoint too', async () => {
    const client = keelClient(keel.url, validator.middleware());
    expect((await client.GET('/health/live')).response.status).toBe(200);
    expect((await client.GET('/health/ready')).response.status).toBe(200);
    expect((await client.GET('/health/startup')).response.status).toBe(200);
    expect((await client.GET('/api/auth/csrf')).data?.csrfToken).toEqual(expect.any(String));
    expect(validator.problems).toEqual([]);
  });
});
