import createClient, { type Client, type Middleware } from 'openapi-fetch';
import type { paths } from './generated/keel-api.js';

// A client generated from Keel's own document (`npm run api:client`: openapi-typescript over
// what dist/tools/openapi-document.js writes), used as a frontend would use it, in Node: a
// cookie jar stands in for the browser's, and the CSRF middleware is the one docs/api.md shows.

export type KeelClient = Client<paths>;

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * The CSRF token a client must send on unsafe requests while it has a session: kept from any
 * answer that carries one (`GET /api/auth/csrf`, login, setup) and added as `X-CSRF-Token`.
 */
export function csrfMiddleware(): Middleware {
  let token: string | undefined;
  return {
    onRequest({ request }) {
      if (token && UNSAFE.has(request.method)) request.headers.set('X-CSRF-Token', token);
      return request;
    },
    async onResponse({ response }) {
      if (!response.headers.get('content-type')?.startsWith('application/json')) return;
      const body = (await response.clone().json()) as { csrfToken?: unknown } | null;
      if (typeof body?.csrfToken === 'string') token = body.csrfToken;
    },
  };
}

/** What a browser keeps for one origin: cookies by name, set and cleared by the answers. */
export class CookieJar {
  private readonly cookies = new Map<string, string>();

  /** A fetch that sends the jar's cookies and keeps what the answer sets. */
  readonly fetch = async (request: Request): Promise<Response> => {
    if (this.cookies.size > 0) {
      request.headers.set(
        'Cookie',
        [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; '),
      );
    }
    const response = await fetch(request);
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const [name, ...value] = pair!.trim().split('=');
      const expired = attributes.some((attribute) =>
        /^\s*(max-age=0|expires=thu, 01 jan 1970)/i.test(attribute),
      );
      if (expired) this.cookies.delete(name!);
      else this.cookies.set(name!, value.join('='));
    }
    return response;
  };

  has(name: string): boolean {
    return this.cookies.has(name);
  }
}

/** A client with its own cookie jar and CSRF middleware: one browser, so to speak. */
export function keelClient(baseUrl: string, ...middleware: Middleware[]): KeelClient {
  const jar = new CookieJar();
  const client = createClient<paths>({ baseUrl, fetch: jar.fetch });
  client.use(csrfMiddleware(), ...middleware);
  return client;
}
