// Type tests for the client generated from Keel's document (test/client/generated/), checked
// by `npm run typecheck`, never run: each `@ts-expect-error` line must fail to compile. They
// show that the settings a frontend sends are typed key by key, and that an error's code
// narrows by its status.
import type { components } from '../client/generated/keel-api.js';
import type { KeelClient } from '../client/keel-client.js';

type SettingsChange = components['schemas']['PatchSettingsDto'];
type SettingsPatch = components['schemas']['RuntimeSettingsPatch'];

declare const client: KeelClient;
const ifMatch = { header: { 'If-Match': '"3"' } };

export async function settingsAreTyped(): Promise<void> {
  await client.PATCH('/api/settings', {
    params: ifMatch,
    body: { values: { siteName: 'Acme', session: { idleTimeoutSeconds: 900 }, auth: null } },
  });
  // A key the settings do not have. openapi-fetch infers its options generically, which skips
  // TypeScript's excess-property check inside the call (openapi-ts/openapi-typescript#2329), so
  // a body is typed where it is written: with `satisfies` (or an annotation), as docs/api.md
  // shows. The generated types are closed (additionalProperties: false): the key is refused.
  await client.PATCH('/api/settings', {
    params: ifMatch,
    // @ts-expect-error: no such key (siteName is spelled with a capital N)
    body: { values: { sitename: 'Acme' } } satisfies SettingsChange,
  });
  // @ts-expect-error: no such key inside a group either
  const patch: SettingsPatch = { session: { idleTimeout: 900 } };
  void patch;
  await client.PATCH('/api/settings', {
    params: ifMatch,
    // @ts-expect-error: a number of seconds, not a string
    body: { values: { session: { idleTimeoutSeconds: '900' } } },
  });
  await client.PATCH('/api/settings', {
    params: ifMatch,
    // @ts-expect-error: not a session backend
    body: { values: { sessionCache: { backend: 'memcached' } } },
  });
  // @ts-expect-error: If-Match is required
  await client.PATCH('/api/settings', { body: { values: { siteName: 'Acme' } } });
  await client.POST('/api/setup', {
    body: {
      token: 't',
      admin: { username: 'a', password: 'p' },
      // @ts-expect-error: setup's initial settings are the same patch, as strict
      settings: { colour: 'blue' } satisfies SettingsPatch,
    },
  });
}

export async function errorsNarrowByStatus(): Promise<void> {
  const { error } = await client.PATCH('/api/settings', {
    params: ifMatch,
    body: { values: { siteName: 'Acme' } },
  });
  if (error?.statusCode === 412) {
    const code: 'version_conflict' = error.code;
    void code;
    // @ts-expect-error: a 412 is never a CSRF failure
    if (error.code === 'csrf_failed') return;
    // @ts-expect-error: only a 400 lists fields
    void error.fields;
  }
  if (error?.statusCode === 428) {
    const code: 'precondition_required' = error.code;
    void code;
  }
}
