import http from 'node:http';
import { DatabaseService } from '../../src/database/database.service.js';
import { SessionCacheService } from '../../src/session-cache/session-cache.service.js';
import { createUser, signIn, type SignedInClient } from '../support/signed-in.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * Every route gets malformed and hostile input. Every answer must be a 4xx in the contract's
 * error shape (never a 500, never a stack), nothing may change (users, settings, sessions are
 * snapshotted before and after), and the server must be healthy afterwards.
 */

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function send(
  url: string,
  method: string,
  path: string,
  headers: Record<string, string | string[]>,
  body?: Buffer | string,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const target = new URL(path, url);
    const request = http.request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname + target.search,
        method,
        // Node's client sends a DELETE body without framing unless told its length.
        headers:
          body === undefined ? headers : { 'content-length': Buffer.byteLength(body), ...headers },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    request.on('error', reject);
    if (body !== undefined) request.write(body);
    request.end();
  });
}

const UNSAFE_ROUTES: [string, string][] = [
  ['POST', '/api/auth/login'],
  ['POST', '/api/auth/password'],
  ['POST', '/api/auth/logout'],
  ['DELETE', '/api/auth/sessions/x'],
  ['POST', '/api/users'],
  ['PATCH', '/api/users/00000000-0000-4000-8000-000000000000'],
  ['DELETE', '/api/users/00000000-0000-4000-8000-000000000000'],
  ['PATCH', '/api/settings'],
  ['POST', '/api/setup'],
];
/** Unsafe routes that take no body: anything sent to them is refused. */
const BODYLESS = new Set([
  '/api/auth/logout',
  '/api/auth/sessions/x',
  '/api/users/00000000-0000-4000-8000-000000000000',
]);
// (GET /api/auth/csrf is left out: starting an anonymous session is what it is for.)
const SAFE_ROUTES = [
  '/api/auth/me',
  '/api/auth/sessions',
  '/api/users',
  '/api/settings',
  '/api/settings/history',
  '/api/runtime',
  '/api/setup',
];

const deep = (levels: number) => '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);
const deepArray = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);
/** Every shape that is not an object, in place of a settings group. */
const NOT_OBJECTS: unknown[] = [[], [{}], [{ loginMaxAttempts: 5 }], 5, 'x', true, 0];
const SETTINGS_GROUPS = ['sessionCache', 'session', 'auth'];
const HOSTILE_STRINGS = [
  "' OR 1=1 --",
  "admin'; DROP TABLE users; --",
  '$(rm -rf /)',
  '`reboot`',
  '../../etc/passwd',
  '\u0000\u0001\u0002',
  '<script>alert(1)</script>',
  '%s%s%s%n',
  'x'.repeat(50_000),
];

/** Bodies that are JSON but wrong in every way a client can get them wrong. */
function jsonBodies(): unknown[] {
  const bodies: unknown[] = [
    null,
    [],
    'a string',
    42,
    true,
    {},
    { unknown: 'field' },
    { username: 12, password: ['x'] },
    { username: { $gt: '' }, password: { $ne: null } },
    { values: 'not an object' },
    { values: [1, 2] },
    { values: { session: { idleTimeoutSeconds: -1 } } },
    { values: { PORT: 1 } },
    { token: 1, admin: 'x' },
    { admin: { username: 'a', password: 'b', extra: 1 } },
    { role: 'superuser', username: 'eve', password: 'long enough password' },
    { currentPassword: 5, newPassword: null },
    { email: 'not-an-email', disabled: 'yes' },
  ];
  for (const group of SETTINGS_GROUPS) {
    for (const shape of NOT_OBJECTS) {
      bodies.push({ values: { [group]: shape } });
      bodies.push({
        token: 'a token',
        admin: { username: 'root', password: 'a long enough passphrase' },
        settings: { [group]: shape },
      });
    }
  }
  bodies.push(
    { values: { session: { idleTimeoutSeconds: '60' } } },
    { values: { auth: { loginMaxAttempts: '5' } } },
    { values: { auth: { loginMaxAttempts: 5.5 } } },
    { values: { sessionCache: { backend: ['redis'] } } },
    { values: { sessionCache: { backend: 1 } } },
    { values: { siteName: 5 } },
    { values: { siteName: [] } },
    { values: { session: { idleTimeoutSeconds: { nested: 60 } } } },
  );
  for (const hostile of HOSTILE_STRINGS) {
    bodies.push({ username: hostile, password: hostile });
    bodies.push({ values: { siteName: hostile.length > 200 ? hostile : { nested: hostile } } });
    bodies.push({
      username: hostile,
      password: 'long enough password',
      role: 'member',
      email: hostile,
    });
  }
  return bodies;
}

const RAW_BODIES: [string, Buffer | string][] = [
  ['malformed JSON', '{"username": '],
  ['trailing garbage', '{"a":1} xyz'],
  [
    'invalid UTF-8',
    Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0xc3, 0x28, 0x22, 0x7d]),
  ],
  ['deep nesting', deep(5000)],
  ...[65, 100, 2500, 10_000].map((levels): [string, string] => [`${levels} levels`, deep(levels)]),
  ...[65, 2500, 40_000].map((levels): [string, string] => [`${levels} arrays`, deepArray(levels)]),
  ['100,000 levels (over the size limit)', deep(100_000)],
  [
    'deep inside a string is not deep',
    JSON.stringify({ username: '['.repeat(1000), password: 'x' }),
  ],
  ['__proto__ key', '{"__proto__": {"isAdmin": true}, "username": "x", "password": "y"}'],
  ['nested __proto__', '{"values": {"a": {"__proto__": {"polluted": 1}}}}'],
  ['constructor key', '{"constructor": {"prototype": {"polluted": 1}}}'],
  ['oversized body', JSON.stringify({ padding: 'x'.repeat(200 * 1024) })],
  ['huge number', '{"values": {"auth": {"loginMaxAttempts": 1e999}}}'],
];

describe('bad-input corpus', () => {
  let keel: TestApp;
  let admin: SignedInClient;
  let member: SignedInClient;

  beforeAll(async () => {
    keel = await startTestApp({ admin: true });
    admin = keel.admin!;
    await createUser(keel, 'member1');
    member = await signIn(keel, 'member1');
  });
  afterAll(async () => {
    await keel.close();
  });

  async function snapshot() {
    const db = keel.app.get(DatabaseService).db;
    const users = await db.selectFrom('users').selectAll().orderBy('id').execute();
    const settings = await db.selectFrom('settings').selectAll().execute();
    const history = await db.selectFrom('settings_history').selectAll().execute();
    const sessions: string[] = [];
    for await (const session of keel.app.get(SessionCacheService).backend.entries()) {
      sessions.push(`${session.sid}:${session.userId}`);
    }
    return JSON.stringify({ users, settings, history, sessions: sessions.sort() });
  }

  it('answers every case with a 4xx in the error shape, changes nothing, and stays healthy', async () => {
    const before = await snapshot();
    const failures: string[] = [];
    let cases = 0;
    const identities: [string, Record<string, string>][] = [
      ['anonymous', {}],
      ['member', { cookie: cookieOf(member), 'x-csrf-token': member.csrfToken }],
      ['admin', { cookie: cookieOf(admin), 'x-csrf-token': admin.csrfToken, 'if-match': '"0"' }],
    ];

    const check = (label: string, response: RawResponse) => {
      cases += 1;
      let parsed: { statusCode?: number; code?: string; message?: string } | undefined;
      try {
        parsed = JSON.parse(response.body);
      } catch {
        parsed = undefined;
      }
      const ok =
        response.status >= 400 &&
        response.status < 500 &&
        parsed?.statusCode === response.status &&
        typeof parsed.code === 'string' &&
        /^[a-z_]+$/.test(parsed.code) &&
        typeof parsed.message === 'string' &&
        !/\n\s+at |node_modules|SQLITE|syntax error at/i.test(response.body);
      if (!ok) failures.push(`${label}: ${response.status} ${response.body.slice(0, 200)}`);
    };

    for (const [who, headers] of identities) {
      for (const [method, path] of UNSAFE_ROUTES) {
        for (const body of jsonBodies()) {
          // `{}` is a well-formed empty body: on a route that takes none it is not bad input.
          if (JSON.stringify(body) === '{}' && BODYLESS.has(path)) continue;
          const response = await send(
            keel.url,
            method,
            path,
            { ...headers, 'content-type': 'application/json' },
            JSON.stringify(body),
          );
          // A hostile but well-formed body may legitimately succeed nowhere here: every one of
          // these is invalid for every route, so a 2xx is a failure too.
          check(`${who} ${method} ${path} ${JSON.stringify(body).slice(0, 60)}`, response);
        }
        for (const [name, raw] of RAW_BODIES) {
          check(
            `${who} ${method} ${path} ${name}`,
            await send(
              keel.url,
              method,
              path,
              { ...headers, 'content-type': 'application/json' },
              raw,
            ),
          );
        }
        for (const type of [
          'text/plain',
          'application/x-www-form-urlencoded',
          'multipart/form-data; boundary=x',
          'application/xml',
        ]) {
          check(
            `${who} ${method} ${path} as ${type}`,
            await send(
              keel.url,
              method,
              path,
              { ...headers, 'content-type': type },
              'username=a&password=b',
            ),
          );
        }
      }
    }

    // Header abuse.
    const abuse: [string, string, string, Record<string, string | string[]>][] = [
      ['huge cookie', 'GET', '/api/auth/me', { cookie: `keel.sid=${'a'.repeat(20_000)}` }],
      [
        'many cookies',
        'GET',
        '/api/auth/me',
        { cookie: Array.from({ length: 500 }, (_, i) => `c${i}=v`).join('; ') },
      ],
      ['forged signed cookie', 'GET', '/api/auth/me', { cookie: 'keel.sid=s%3Aforged.signature' }],
      ['cookie with control bytes', 'GET', '/api/auth/me', { cookie: 'keel.sid=%00%01%02' }],
      [
        'bad If-Match',
        'PATCH',
        '/api/settings',
        { ...adminHeaders(), 'if-match': 'W/"abc"', 'content-type': 'application/json' },
      ],
      [
        // Weak tags never match (RFC 9110's strong comparison), not even the current version.
        'If-Match weak tag of the current version',
        'PATCH',
        '/api/settings',
        { ...adminHeaders(), 'if-match': 'W/"0"', 'content-type': 'application/json' },
      ],
      [
        'If-Match tags without a comma',
        'PATCH',
        '/api/settings',
        { ...adminHeaders(), 'if-match': '"0" "0"', 'content-type': 'application/json' },
      ],
      [
        'If-Match huge',
        'PATCH',
        '/api/settings',
        {
          ...adminHeaders(),
          'if-match': `"${'9'.repeat(5000)}"`,
          'content-type': 'application/json',
        },
      ],
      [
        'CSRF token huge',
        'PATCH',
        '/api/settings',
        {
          cookie: cookieOf(admin),
          'x-csrf-token': 'x'.repeat(8000),
          'if-match': '"0"',
          'content-type': 'application/json',
        },
      ],
      ['request id abuse', 'GET', '/api/auth/me', { 'x-request-id': '\u00ff'.repeat(100) }],
      ['path traversal', 'GET', '/api/../../etc/passwd', {}],
      ['encoded nulls', 'GET', '/api/users/%00%00', { cookie: cookieOf(admin) }],
      [
        'overlong id',
        'DELETE',
        `/api/users/${'a'.repeat(5000)}`,
        { cookie: cookieOf(admin), 'x-csrf-token': admin.csrfToken },
      ],
      ['history limit', 'GET', '/api/settings/history?limit=-1', { cookie: cookieOf(admin) }],
      [
        'history limit huge',
        'GET',
        '/api/settings/history?limit=1e99',
        { cookie: cookieOf(admin) },
      ],
      [
        'history limit array',
        'GET',
        '/api/settings/history?limit=1&limit=2',
        { cookie: cookieOf(admin) },
      ],
      [
        'unknown method',
        'PUT',
        '/api/settings',
        { ...adminHeaders(), 'content-type': 'application/json' },
      ],
    ];
    for (const [name, method, path, headers] of abuse) {
      const body =
        method === 'GET' || method === 'DELETE'
          ? undefined
          : JSON.stringify({ values: { siteName: 'Pwned' } });
      check(`header abuse: ${name}`, await send(keel.url, method, path, headers, body));
    }
    for (const path of SAFE_ROUTES) {
      for (const [who, headers] of identities.slice(0, 2)) {
        const response = await send(keel.url, 'GET', `${path}?${'q'.repeat(3000)}=1`, headers);
        if (response.status >= 500) failures.push(`${who} GET ${path}: ${response.status}`);
        cases += 1;
      }
    }

    process.stdout.write(`bad-input corpus: ${cases} cases tried, ${failures.length} failed\n`);
    expect(failures).toEqual([]);
    // Bad input is the client's problem: nothing of it is logged as an error of the server's.
    expect(keel.logs.filter((line) => Number(line.level) >= 50)).toEqual([]);
    expect(await snapshot()).toEqual(before);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
    const live = await send(keel.url, 'GET', '/health/live', {});
    const ready = await send(keel.url, 'GET', '/health/ready', {});
    expect([live.status, ready.status]).toEqual([200, 200]);
    const me = await send(keel.url, 'GET', '/api/auth/me', { cookie: cookieOf(admin) });
    expect(me.status).toBe(200);
  });

  function adminHeaders(): Record<string, string> {
    return { cookie: cookieOf(admin), 'x-csrf-token': admin.csrfToken };
  }
});

function cookieOf(client: SignedInClient): string {
  const jar = (
    client.agent as unknown as {
      jar: { getCookies(access: unknown): { name: string; value: string }[] };
    }
  ).jar;
  const cookies = jar.getCookies({ domain: '127.0.0.1', path: '/', secure: false, script: false });
  return cookies.map((cookie) => `${cookie.name}=${cookie.value}`).join('; ');
}

describe('JSON nesting is limited while parsing, on every route', () => {
  let keel: TestApp;
  beforeAll(async () => {
    keel = await startTestApp({ admin: true });
  });
  afterAll(async () => {
    await keel.close();
  });

  it('64 levels parse; 65 to 10,000 are 400 before validation; over 100 kB is 413', async () => {
    const cookie = cookieOf(keel.admin!);
    const headers = {
      'content-type': 'application/json',
      cookie,
      'x-csrf-token': keel.admin!.csrfToken,
    };
    const at = async (method: string, path: string, body: string) =>
      send(keel.url, method, path, { ...headers, 'if-match': '"0"' }, body);
    // 64 levels is still JSON the server reads (and then refuses for what it is).
    const within = await at('POST', '/api/auth/login', `{"username":${deep(63)},"password":"x"}`);
    expect(within.status).toBe(400);
    expect(JSON.parse(within.body)).toMatchObject({ code: 'validation_failed' });
    for (const [method, path] of UNSAFE_ROUTES) {
      for (const levels of [65, 2500, 10_000]) {
        const response = await at(method, path, deep(levels));
        expect({
          path,
          levels,
          status: response.status,
          code: JSON.parse(response.body).code,
        }).toEqual({
          path,
          levels,
          status: 400,
          code: 'malformed_json',
        });
        expect(JSON.parse(response.body).message).toMatch(/deeper than 64 levels/);
      }
      const huge = await at(method, path, deep(100_000));
      expect(huge.status).toBe(413);
    }
    // Another charset would hide the nesting from the byte scan: only UTF-8 is read at all.
    const utf16 = Buffer.from(`{"a":"\u2200",${'"b":['.repeat(1)}${deep(100)}]}`, 'utf16le');
    const other = await send(
      keel.url,
      'POST',
      '/api/auth/login',
      { 'content-type': 'application/json; charset=utf-16le' },
      utf16,
    );
    expect([other.status, JSON.parse(other.body).code]).toEqual([415, 'unsupported_media_type']);
  });
});
