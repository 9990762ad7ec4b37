import type { NestExpressApplication } from '@nestjs/platform-express';
import { KeelLogger } from '../logging/keel-logger.js';
import { ROOT_LOGGER, type RootLogger } from '../logging/root-logger.js';
import { createSessionMiddleware } from '../auth/session-middleware.js';
import { SessionSecrets } from '../auth/session-secrets.js';
import { AppConfig } from '../config/app-config.js';
import { setupOpenApi } from './api-docs.js';
import { SessionCacheService } from '../session-cache/session-cache.service.js';
import { bodyErrorHandler, jsonBody } from '../http/body-parsing.js';
import { dependencyErrorHandler } from '../http/http-exception.filter.js';
import { answerClientErrors } from '../http/client-errors.js';
import { buildRequestsWithExpressPrototypes } from '../http/express-request-classes.js';
import { methodNotAllowed } from '../http/method-not-allowed.js';
import {
  HELMET_OPTIONS,
  recordSecurityHeaders,
  serveSecurityHeaders,
} from '../http/security-headers.js';
import { SETTINGS_PATH } from '../settings/settings.controller.js';

/**
 * The express-level middleware that must run before Nest's router. Shared by main.ts and the
 * tests, so the app under test is the app that ships. Create the app with `bodyParser: false`.
 */
export function configureApp(app: NestExpressApplication): void {
  const config = app.get(AppConfig);
  app.useLogger(app.get(KeelLogger));
  app.set('trust proxy', config.trustProxy);
  app.disable('x-powered-by');
  // ETags are the settings' own (their version, strong); Express's weak body hashes on every
  // JSON answer, errors included, are no version a client could send back in If-Match.
  app.set('etag', false);
  const security = recordSecurityHeaders(HELMET_OPTIONS);
  // Node answers what it cannot parse before Express runs: those answers get the security
  // headers and a request id too, and a line in the log that the id finds.
  const log = app.get<RootLogger>(ROOT_LOGGER);
  answerClientErrors(app.getHttpServer(), {
    headers: security.always,
    onRefused: ({ requestId, statusCode, code, cause, remoteAddress }) =>
      log.warn(
        { req: { id: requestId, remoteAddress }, res: { statusCode }, code, cause },
        'request refused by the HTTP parser',
      ),
  });
  // Requests built with Express's prototypes make its per-request prototype switch a no-op,
  // which otherwise had the collector promote most of each request's garbage.
  if (!buildRequestsWithExpressPrototypes(app)) {
    log.warn(
      "The HTTP server does not hold Node's default request and response classes where Keel looks for them (already replaced, or a Node.js that keeps them elsewhere): requests work, at the cost of the prototype switch Express makes on each (docs/performance.md)",
    );
  }
  app.use(serveSecurityHeaders(security));
  // Before the body parser and the session: the docs are static and public (api-docs.ts).
  setupOpenApi(app);
  // A wrong method is answered before the body is read, the session loaded or a guard asked.
  app.use(methodNotAllowed(app.getHttpAdapter().getInstance()));
  app.use(jsonBody({ mergePatchPaths: [SETTINGS_PATH] }), bodyErrorHandler);
  app.use(
    createSessionMiddleware(app.get(SessionCacheService), app.get(SessionSecrets)),
    // A store that cannot be reached is a 503, never a silent logged-out answer.
    dependencyErrorHandler,
  );
}
