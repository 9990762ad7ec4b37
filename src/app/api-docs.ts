import type { INestApplication } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import helmet from 'helmet';
import { readFileSync } from 'node:fs';
import { PLAIN_COOKIE_NAME, SECURE_COOKIE_NAME } from '../auth/session-cookie.js';
import {
  CSRF_HEADER_NAME,
  METRICS_TOKEN_SCHEME,
  SECURE_SESSION_SCHEME,
  SESSION_SCHEME,
} from '../openapi/access.js';
import { DOCS_JSON_PATH, DOCS_PATH } from '../openapi/docs-paths.js';

const DESCRIPTION = `The HTTP API of Keel. JSON in and out; every error is an \`ErrorBody\`.

**Sessions** are cookies: \`${PLAIN_COOKIE_NAME}\` over plain HTTP, \`${SECURE_COOKIE_NAME}\` over TLS
(HttpOnly, SameSite=Lax). Sign in with \`POST /api/auth/login\`; a browser on this origin sends the
cookie by itself.

**CSRF**: a \`POST\`, \`PUT\`, \`PATCH\` or \`DELETE\` that carries a session cookie must send
\`${CSRF_HEADER_NAME}\` with the token bound to the session (from \`GET /api/auth/csrf\`, and in the body
of login and setup), else \`403 csrf_failed\`.

**Setup**: until first-run setup is complete, every \`/api\` route except \`/api/setup\` and
\`/api/auth/csrf\` answers \`503 setup_required\`.`;

/** The OpenAPI document of every route the app serves, built from the controllers' decorators. */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Keel')
    .setDescription(DESCRIPTION)
    .setVersion(packageVersion())
    .addCookieAuth(
      PLAIN_COOKIE_NAME,
      { type: 'apiKey', in: 'cookie', description: 'The session cookie over plain HTTP.' },
      SESSION_SCHEME,
    )
    .addCookieAuth(
      SECURE_COOKIE_NAME,
      { type: 'apiKey', in: 'cookie', description: 'The session cookie over TLS.' },
      SECURE_SESSION_SCHEME,
    )
    .addBearerAuth(
      { type: 'http', scheme: 'bearer', description: 'METRICS_TOKEN, for `GET /metrics`.' },
      METRICS_TOKEN_SCHEME,
    )
    .addTag('auth', 'Signing in and out, CSRF tokens, your own sessions')
    .addTag('setup', 'First-run setup')
    .addTag('users', 'User management (admins)')
    .addTag('settings', 'Runtime settings (admins)')
    .addTag('runtime', 'This instance’s runtime state (admins)')
    .addTag('health', 'Kubernetes probes')
    .addTag('metrics', 'Prometheus metrics')
    .build();
  return SwaggerModule.createDocument(app, config, {
    // `authLogin`, `usersUpdate`: what generated clients name their methods.
    operationIdFactory: (controllerKey, methodKey) =>
      `${lowerFirst(controllerKey.replace(/Controller$/, ''))}${upperFirst(methodKey)}`,
  });
}

/**
 * Serves Swagger UI at `/api/docs` and the document at `/api/docs/openapi.json`, public and
 * outside Nest's router (so no guard, session or setup gate applies). The document is built on
 * the first request, when every controller is registered. Call it after helmet.
 */
export function setupOpenApi(app: NestExpressApplication): void {
  // Swagger UI's page has inline <style> blocks and style attributes: allow inline styles on
  // the docs pages only. Scripts stay same-origin files ('self'), as on every other route.
  app.use(
    DOCS_PATH,
    helmet.contentSecurityPolicy({
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
        upgradeInsecureRequests: null,
      },
    }),
  );
  SwaggerModule.setup(DOCS_PATH, app, () => buildOpenApiDocument(app), {
    jsonDocumentUrl: DOCS_JSON_PATH,
    raw: ['json'],
    customSiteTitle: 'Keel API',
  });
}

function packageVersion(): string {
  try {
    const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
    return (JSON.parse(text) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

function upperFirst(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
