import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import { ModulesContainer, Reflector } from '@nestjs/core';
import { readFileSync } from 'node:fs';
import { METHODS } from 'node:http';
import request from 'supertest';
import { IS_PUBLIC, REQUIRED_ROLES } from '../../src/access/decorators.js';
import type { Role } from '../../src/access/role.js';
import { ErrorCode } from '../../src/http/error-codes.js';
import { DOCS_JSON_PATH, DOCS_PATH } from '../../src/openapi/docs-paths.js';
import { ERROR_CODE_DOCS } from '../../src/openapi/error-responses.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

// The OpenAPI document must list exactly the API routes the app serves, each with what a client
// generator needs: a summary, a success response, its errors (each status with only its own
// codes), and the session and CSRF requirements the global guards enforce. A route added
// without documentation fails here. (test/client/ drives the API through a client generated
// from this document, and `npm run lint:api` lints it.)

interface Operation {
  summary?: string;
  tags?: string[];
  security?: Record<string, string[]>[];
  parameters?: { name: string; in: string; required?: boolean }[];
  requestBody?: { content: Record<string, { schema: { $ref?: string } }> };
  responses: Record<
    string,
    {
      content?: Record<
        string,
        {
          schema?: {
            $ref?: string;
            properties?: {
              statusCode?: { const?: number };
              code?: { enum?: string[] };
              fields?: unknown;
            };
            additionalProperties?: boolean;
          };
          examples?: Record<string, { value: { code: string } }>;
        }
      >;
    }
  >;
}

interface Schema {
  type?: string;
  properties?: Record<string, { $ref?: string; allOf?: { $ref: string }[]; enum?: string[] }>;
  required?: string[];
  enum?: string[];
}

interface Document {
  info: { title: string; version: string };
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema>; securitySchemes: Record<string, unknown> };
}

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head', 'trace'];
const UNSAFE_METHODS = new Set(['post', 'put', 'patch', 'delete']);
/** Routes served for tests only, never shipped (none today). */
const TEST_ONLY_ROUTES = new Set<string>();
/** Served, but pages for a browser, not API: kept out of the document (no client needs them). */
const PAGES = new Set(['GET /setup', 'GET /console', 'GET /assets/{file}']);
/**
 * Codes no operation lists: the HTTP edge answers them before any route is chosen, or they are
 * the fallbacks for a failure no route expects (a bare 409, a 500) (docs/api.md, "Errors").
 */
const EDGE_CODES = new Set<string>([
  ErrorCode.MethodNotAllowed,
  ErrorCode.HeadersTooLarge,
  ErrorCode.MalformedRequest,
  ErrorCode.RequestTimeout,
  ErrorCode.Conflict,
  ErrorCode.InternalError,
]);

const ERROR_STATUS = Object.fromEntries(
  Object.entries(ERROR_CODE_DOCS).map(([code, { status }]) => [code, status]),
) as Record<ErrorCode, number>;

/** `GET /api/users/{id}`: the form the document uses. */
function routeKey(method: string, path: string): string {
  const openApiPath = path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
  return `${method.toUpperCase()} ${openApiPath}`;
}

interface ExpressLayer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle?: { stack?: unknown[] };
  name?: string;
}

/**
 * Express 5's `all()` registers a route for every method: that is how Nest mounts middleware
 * (`forRoutes('*')`), not an endpoint. A controller's `@All()` would look the same, so the test
 * also checks that no controller has one.
 */
function isAllMethodsRoute(methods: Record<string, boolean>): boolean {
  return METHODS.every((method) => methods[method.toLowerCase()]);
}

/** Every route Express will serve, read from its router: what a client can actually call. */
function servedRoutes(keel: TestApp): string[] {
  const express = keel.app.getHttpAdapter().getInstance() as { router: { stack: ExpressLayer[] } };
  const routes: string[] = [];
  for (const layer of express.router.stack) {
    if (Array.isArray(layer.handle?.stack)) {
      // A mounted Router: its routes would be invisible to the loop below.
      throw new Error(`a router (${layer.name}) is mounted: teach this test to read its routes`);
    }
    if (!layer.route || isAllMethodsRoute(layer.route.methods)) continue;
    const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
    for (const path of paths) {
      if (path === DOCS_PATH || path.startsWith(`${DOCS_PATH}/`)) continue;
      for (const [method, enabled] of Object.entries(layer.route.methods)) {
        if (!enabled) continue;
        if (method === '_all') throw new Error(`${path} answers every method: document each`);
        const key = routeKey(method, path);
        if (!TEST_ONLY_ROUTES.has(key)) routes.push(key);
      }
    }
  }
  return [...new Set(routes)].sort();
}

interface NestRoute {
  isPublic: boolean;
  roles: Role[];
}

/** Each controller route with the access metadata the global guards read. */
function nestRoutes(keel: TestApp): Map<string, NestRoute> {
  const reflector = new Reflector();
  const routes = new Map<string, NestRoute>();
  for (const module of keel.app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const controller = wrapper.metatype as (new (...args: never[]) => object) | null;
      if (!controller) continue;
      const base = String(Reflect.getMetadata(PATH_METADATA, controller) ?? '');
      const prototype = controller.prototype as Record<string, unknown>;
      for (const name of Object.getOwnPropertyNames(prototype)) {
        const handler = prototype[name];
        if (typeof handler !== 'function' || name === 'constructor') continue;
        const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
        const subPaths = Reflect.getMetadata(PATH_METADATA, handler) as
          string | string[] | undefined;
        if (method === undefined || subPaths === undefined) continue;
        for (const subPath of Array.isArray(subPaths) ? subPaths : [subPaths]) {
          const path = `/${[base, subPath].filter(Boolean).join('/')}`
            .replace(/\/+/g, '/')
            .replace(/(.)\/$/, '$1');
          const targets = [handler, controller];
          routes.set(routeKey(RequestMethod[method], path), {
            isPublic: reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets) ?? false,
            roles: reflector.getAllAndOverride<Role[]>(REQUIRED_ROLES, targets) ?? [],
          });
        }
      }
    }
  }
  return routes;
}

function operations(document: Document): [string, string, Operation][] {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => HTTP_METHODS.includes(method))
      .map(([method, operation]): [string, string, Operation] => [
        routeKey(method, path),
        method,
        operation,
      ]),
  );
}

/** The error codes an operation documents for one status (the examples are keyed by code). */
function documentedCodes(operation: Operation, status: number): string[] {
  const examples = operation.responses[String(status)]?.content?.['application/json']?.examples;
  return Object.keys(examples ?? {});
}

describe('OpenAPI document', () => {
  let keel: TestApp;
  let document: Document;

  beforeAll(async () => {
    // A fresh install: the docs answer before first-run setup, like /api/setup itself.
    keel = await startTestApp({ completeSetup: false });
    const response = await request(keel.url).get(DOCS_JSON_PATH).expect(200);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    document = JSON.parse(response.text) as Document;
  });

  afterAll(() => keel?.close());

  it('is served without a session, and sets no cookie', async () => {
    const response = await request(keel.url).get(DOCS_JSON_PATH).expect(200);
    expect(response.headers['set-cookie']).toBeUndefined();
    expect(document.info.title).toBe('Keel');
    expect(document.components.securitySchemes).toEqual(
      expect.objectContaining({
        session: expect.objectContaining({ type: 'apiKey', in: 'cookie', name: 'keel.sid' }),
        secureSession: expect.objectContaining({
          type: 'apiKey',
          in: 'cookie',
          name: '__Host-keel.sid',
        }),
      }),
    );
  });

  it('lists exactly the routes the app serves', () => {
    expect([...nestRoutes(keel).keys()].filter((key) => key.startsWith('ALL '))).toEqual([]);
    const served = servedRoutes(keel);
    const documented = operations(document)
      .map(([key]) => key)
      .sort();
    expect(served.length).toBeGreaterThan(10);
    expect(served.filter((key) => PAGES.has(key))).toEqual([...PAGES].sort());
    expect(documented).toEqual(served.filter((key) => !PAGES.has(key)));
  });

  it('gives every operation a summary, a tag and a success response', () => {
    for (const [key, , operation] of operations(document)) {
      expect({ key, summary: operation.summary?.trim() || undefined }).toEqual({
        key,
        summary: expect.any(String),
      });
      expect({ key, tags: operation.tags?.length ?? 0 }).toEqual({ key, tags: 1 });
      const statuses = Object.keys(operation.responses);
      expect({ key, success: statuses.some((status) => /^2\d\d$/.test(status)) }).toEqual({
        key,
        success: true,
      });
    }
  });

  it('documents the errors of every non-probe operation, each status with only its own codes', () => {
    for (const [key, , operation] of operations(document)) {
      if (key.startsWith('GET /health/')) {
        // Probes answer terminus' {status, info, error, details}, also with 503.
        expect({ key, probeFailure: Boolean(operation.responses['503']?.content) }).toEqual({
          key,
          probeFailure: true,
        });
        continue;
      }
      const errors = Object.entries(operation.responses).filter(
        ([status]) => Number(status) >= 400,
      );
      expect({ key, errors: errors.length > 0 }).toEqual({ key, errors: true });
      // A route that takes input or needs credentials can be the client's fault. One that takes
      // neither (GET /api/auth/csrf, GET /api/setup, the setup page) can fail only with a 5xx.
      const takesInput = Boolean(operation.requestBody) || (operation.parameters ?? []).length > 0;
      if (takesInput || (operation.security ?? []).length > 0) {
        expect({ key, has4xx: errors.some(([status]) => status.startsWith('4')) }).toEqual({
          key,
          has4xx: true,
        });
      }
      for (const [status, response] of errors) {
        const content = response.content?.['application/json'];
        const examples = Object.keys(content?.examples ?? {}).sort();
        const properties = content?.schema?.properties;
        expect({
          key,
          status,
          statusCode: properties?.statusCode?.const,
          codes: [...(properties?.code?.enum ?? [])].sort(),
          closed: content?.schema?.additionalProperties,
          fields: Boolean(properties?.fields),
        }).toEqual({
          key,
          status,
          statusCode: Number(status),
          codes: examples,
          closed: false,
          fields: examples.includes(ErrorCode.ValidationFailed),
        });
        expect(examples.length).toBeGreaterThan(0);
        for (const code of examples) {
          expect({ key, code, status: ERROR_STATUS[code as ErrorCode] }).toEqual({
            key,
            code,
            status: Number(status),
          });
        }
      }
    }
  });

  it('documents the session, role and CSRF requirements the guards enforce', () => {
    const nest = nestRoutes(keel);
    for (const [key, method, operation] of operations(document)) {
      const route = nest.get(key);
      expect({ key, controllerRoute: Boolean(route) }).toEqual({ key, controllerRoute: true });
      if (!route) continue;
      const needsSession = !route.isPublic;
      const sessionSchemes = (operation.security ?? [])
        .flatMap((requirement) => Object.keys(requirement))
        .filter((scheme) => scheme === 'session' || scheme === 'secureSession')
        .sort();
      expect({ key, sessionSchemes }).toEqual({
        key,
        sessionSchemes: needsSession ? ['secureSession', 'session'] : [],
      });
      if (needsSession) {
        expect({ key, codes401: documentedCodes(operation, 401) }).toEqual({
          key,
          codes401: expect.arrayContaining([ErrorCode.Unauthenticated]),
        });
      }
      const adminOnly = route.roles.includes('admin');
      expect({
        key,
        forbidden: documentedCodes(operation, 403).includes(ErrorCode.Forbidden),
      }).toEqual({ key, forbidden: adminOnly });
      const unsafe = UNSAFE_METHODS.has(method);
      // CSRF is a security scheme a client's middleware adds, never a parameter of each call:
      // with a session, needed together with the cookie; without, optional (a browser that
      // holds a signed anonymous token sends it).
      const requirements = (operation.security ?? []).map((requirement) =>
        Object.keys(requirement).sort(),
      );
      expect({ key, requirements }).toEqual({
        key,
        requirements:
          key === 'GET /metrics'
            ? [['metricsToken']] // public to the guards: its own bearer token (METRICS_TOKEN)
            : needsSession
              ? [
                  ['session', ...(unsafe ? ['csrfToken'] : [])].sort(),
                  ['secureSession', ...(unsafe ? ['csrfToken'] : [])].sort(),
                ]
              : unsafe
                ? [[], ['csrfToken']]
                : [],
      });
      expect(operation.parameters?.some((parameter) => parameter.name === 'X-CSRF-Token')).toBe(
        false,
      );
      expect({
        key,
        csrfFailed: documentedCodes(operation, 403).includes(ErrorCode.CsrfFailed),
      }).toEqual({ key, csrfFailed: unsafe });
    }
  });

  it('documents every error code on some operation, but those of the HTTP edge and the fallbacks', () => {
    const documented = new Set(
      operations(document).flatMap(([, , operation]) =>
        Object.entries(operation.responses)
          .filter(([status]) => Number(status) >= 400)
          .flatMap(([status]) => documentedCodes(operation, Number(status))),
      ),
    );
    expect([...documented].filter((code) => EDGE_CODES.has(code))).toEqual([]);
    expect([...documented, ...EDGE_CODES].sort()).toEqual(Object.values(ErrorCode).sort());
  });

  it('is what docs/api.md lists: every error code with its status and meaning', () => {
    const apiDoc = readFileSync(new URL('../../docs/api.md', import.meta.url), 'utf8');
    const table =
      /<!-- error-codes:begin[^>]*-->\n\| status[^\n]*\n\|[-|]+\|\n([\s\S]*?)\n<!-- error-codes:end -->/.exec(
        apiDoc,
      )?.[1];
    const rows = Object.entries(ERROR_CODE_DOCS)
      .sort(([a, x], [b, y]) => x.status - y.status || a.localeCompare(b))
      .map(
        ([code, { status, meaning, retryAfter }]) =>
          `| ${status} | \`${code}\` | ${meaning} | ${retryAfter ? 'yes' : ''} |`,
      );
    // On a mismatch, the expected rows are the ones to paste.
    expect(table?.split('\n')).toEqual(rows);
  });

  it('describes every request body by its DTO, with its properties', () => {
    const { schemas } = document.components;
    const bodies = operations(document).filter(([, , operation]) => operation.requestBody);
    expect(bodies.length).toBeGreaterThanOrEqual(5);
    for (const [key, , operation] of bodies) {
      const content = operation.requestBody?.content ?? {};
      // Only PATCH /api/settings, a merge patch, takes RFC 7396's own media type as well.
      expect({ key, types: Object.keys(content).sort() }).toEqual({
        key,
        types:
          key === 'PATCH /api/settings'
            ? ['application/json', 'application/merge-patch+json']
            : ['application/json'],
      });
      const ref = content['application/json']?.schema.$ref;
      const schema = ref ? schemas[ref.split('/').pop()!] : undefined;
      expect({ key, properties: Object.keys(schema?.properties ?? {}).length > 0 }).toEqual({
        key,
        properties: true,
      });
    }
    const properties = (name: string) => Object.keys(schemas[name]?.properties ?? {}).sort();
    expect(properties('LoginDto')).toEqual(['password', 'username']);
    expect(schemas.LoginDto.required?.sort()).toEqual(['password', 'username']);
    expect(properties('ChangePasswordDto')).toEqual(['currentPassword', 'newPassword']);
    expect(properties('CreateUserDto')).toEqual(['email', 'password', 'role', 'username']);
    expect(properties('UpdateUserDto')).toEqual(['disabled', 'email', 'password', 'role']);
    expect(properties('PatchSettingsDto')).toEqual(['values']);
    expect(properties('RuntimeSettings')).toEqual(['auth', 'session', 'sessionCache', 'siteName']);
  });

  it('serves Swagger UI as HTML under a CSP that keeps scripts same-origin', async () => {
    const page = await request(keel.url).get(DOCS_PATH).expect(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.text).toContain('swagger-ui-bundle.js');
    expect(page.headers['set-cookie']).toBeUndefined();
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toMatch(/script-src 'self'(;|$)/);
    expect(csp).toMatch(/style-src 'self' 'unsafe-inline'/);
    await request(keel.url)
      .get(`${DOCS_PATH}/swagger-ui-bundle.js`)
      .expect(200)
      .expect('content-type', /javascript/);
    await request(keel.url).get(`${DOCS_PATH}/swagger-ui-init.js`).expect(200);

    // Everywhere else the policy stays strict.
    const elsewhere = await request(keel.url).get('/health/live');
    expect(String(elsewhere.headers['content-security-policy'])).toMatch(/style-src 'self'(;|$)/);
  });

  it("serves Swagger UI's files with no ETag or Last-Modified: the settings' is the only ETag", async () => {
    for (const path of [
      DOCS_PATH,
      `${DOCS_PATH}/swagger-ui-bundle.js`,
      `${DOCS_PATH}/swagger-ui.css`,
      `${DOCS_PATH}/swagger-ui-init.js`,
      DOCS_JSON_PATH,
    ]) {
      const response = await request(keel.url).get(path).expect(200);
      expect([path, response.headers.etag, response.headers['last-modified']]).toEqual([
        path,
        undefined,
        undefined,
      ]);
    }
    // Nothing to revalidate against, so no 304 either.
    await request(keel.url)
      .get(`${DOCS_PATH}/swagger-ui.css`)
      .set('If-Modified-Since', new Date(Date.now() + 3600_000).toUTCString())
      .expect(200);
  });
});
