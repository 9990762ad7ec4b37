import type { INestApplication } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import helmet from 'helmet';
import { readFileSync } from 'node:fs';
import { PLAIN_COOKIE_NAME, SECURE_COOKIE_NAME } from '../auth/session-cookie.js';
import {
  CSRF_HEADER_NAME,
  CSRF_SCHEME,
  METRICS_TOKEN_SCHEME,
  SECURE_SESSION_SCHEME,
  SESSION_SCHEME,
} from '../openapi/access.js';
import { DOCS_JSON_PATH, DOCS_PATH } from '../openapi/docs-paths.js';
import { finishDocument } from '../openapi/finish-document.js';
import { describeSettingsSchemas } from '../settings/settings.openapi.js';

const DESCRIPTION = `The HTTP API of Keel. JSON in and out; every error has one shape,
\`{statusCode, code, message, fields?}\`, and each response lists the codes it can carry.
docs/api.md in the repository explains the conventions.

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
  const { version, license } = packageInfo();
  const config = new DocumentBuilder()
    .setTitle('Keel')
    .setDescription(DESCRIPTION)
    .setVersion(version)
    // 3.1: schemas are JSON Schema, so a nullable reference is `anyOf: [$ref, null]`, which
    // validators and generators read alike.
    .setOpenAPIVersion('3.1.0')
    // Relative: the document holds behind any proxy or port, and generators accept it.
    .addServer('/')
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
    .addApiKey(
      {
        type: 'apiKey',
        in: 'header',
        name: CSRF_HEADER_NAME,
        description:
          'The CSRF token: from `GET /api/auth/csrf`, or in the body of login and setup. Needed on every POST, PUT, PATCH and DELETE that carries a session cookie (docs/api.md, "CSRF").',
      },
      CSRF_SCHEME,
    )
    // Not addBearerAuth: it would call the token a JWT. METRICS_TOKEN is an opaque secret.
    .addSecurity(METRICS_TOKEN_SCHEME, {
      type: 'http',
      scheme: 'bearer',
      description: 'METRICS_TOKEN, for `GET /metrics`.',
    })
    .addTag('auth', 'Signing in and out, CSRF tokens, your own sessions')
    .addTag('setup', 'First-run setup')
    .addTag('users', 'User management (admins)')
    .addTag('settings', 'Runtime settings (admins)')
    .addTag('runtime', 'This instance’s runtime state (admins)')
    .addTag('health', 'Kubernetes probes')
    .addTag('metrics', 'Prometheus metrics')
    .build();
  const document = SwaggerModule.createDocument(app, config, {
    // `authLogin`, `usersUpdate`: what generated clients name their methods.
    operationIdFactory: (controllerKey, methodKey) =>
      `${lowerFirst(controllerKey.replace(/Controller$/, ''))}${upperFirst(methodKey)}`,
  });
  // A licence by name: Keel's is no SPDX identifier and has no URL (package.json).
  document.info.license = { name: license };
  delete document.info.contact;
  describeSettingsSchemas(document);
  finishDocument(document);
  return document;
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
  withoutStaticValidators(app, () =>
    SwaggerModule.setup(DOCS_PATH, app, () => buildOpenApiDocument(app), {
      jsonDocumentUrl: DOCS_JSON_PATH,
      raw: ['json'],
      customSiteTitle: 'Keel API',
    }),
  );
}

/**
 * Runs `setup` with the app's static serving made to send no `ETag` and no `Last-Modified`:
 * the settings' version is the only ETag Keel sends (docs/api.md, "Conventions"), and
 * SwaggerModule serves Swagger UI's files with express.static's defaults, passing on no options
 * of ours. Without validators a request is never answered `304` either.
 */
function withoutStaticValidators(app: NestExpressApplication, setup: () => void): void {
  const useStaticAssets = app.useStaticAssets;
  app.useStaticAssets = ((path: string, options?: object) =>
    useStaticAssets.call(app, path, {
      ...options,
      etag: false,
      lastModified: false,
    })) as typeof app.useStaticAssets;
  try {
    setup();
  } finally {
    app.useStaticAssets = useStaticAssets;
  }
}

/** Keel's version and licence, from its package.json. */
function packageInfo(): { version: string; license: string } {
  try {
    const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
    const { version, license } = JSON.parse(text) as { version?: string; license?: string };
    return { version: version ?? '0.0.0', license: license ?? 'UNLICENSED' };
  } catch {
    return { version: '0.0.0', license: 'UNLICENSED' };
  }
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

function upperFirst(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
