import express, { type RequestHandler } from 'express';
import helmet from 'helmet';
import request from 'supertest';
import { HELMET_OPTIONS, securityHeaders } from '../../src/http/security-headers.js';

/** The headers a tiny app answers with when `middleware` runs first. */
async function headersWith(
  middleware: RequestHandler,
  { secure = false } = {},
): Promise<Record<string, string>> {
  const app = express();
  // As behind a TLS-terminating proxy (TRUST_PROXY): X-Forwarded-Proto says https.
  app.set('trust proxy', true);
  app.use(middleware);
  app.get('/', (_req, res) => {
    res.json({ ok: true });
  });
  const response = await request(app)
    .get('/')
    .set('X-Forwarded-Proto', secure ? 'https' : 'http')
    .expect(200);
  const headers = { ...response.headers } as Record<string, string>;
  delete headers.date;
  return headers;
}

describe('security headers worked out once', () => {
  it('are exactly the headers helmet itself sets over TLS, with the same options', async () => {
    const ours = await headersWith(securityHeaders(HELMET_OPTIONS), { secure: true });
    const helmets = await headersWith(helmet(HELMET_OPTIONS), { secure: true });
    expect(ours).toEqual(helmets);
    expect(ours['strict-transport-security']).toMatch(/^max-age=\d+/);
    expect(ours['content-security-policy']).toContain("default-src 'self'");
    expect(ours['x-content-type-options']).toBe('nosniff');
    expect(ours).not.toHaveProperty('x-powered-by');
  });

  it('leave HSTS out over plain HTTP, and only it', async () => {
    const ours = await headersWith(securityHeaders(HELMET_OPTIONS));
    const { 'strict-transport-security': hsts, ...helmets } = await headersWith(
      helmet(HELMET_OPTIONS),
    );
    expect(hsts).toBeDefined();
    expect(ours).toEqual(helmets);
  });

  it('refuses options whose headers depend on the request', () => {
    const nonce = (_req: unknown, res: unknown) => `'nonce-${String(res)}'`;
    expect(() =>
      securityHeaders({
        contentSecurityPolicy: { directives: { scriptSrc: ["'self'", nonce as never] } },
      }),
    ).toThrow();
  });
});
