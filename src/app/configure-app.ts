import type { NestExpressApplication } from '@nestjs/platform-express';
import { KeelLogger } from '../logging/keel-logger.js';
import { createSessionMiddleware } from '../auth/session-middleware.js';
import { SessionSecrets } from '../auth/session-secrets.js';
import { AppConfig } from '../config/app-config.js';
import { setupOpenApi } from './api-docs.js';
import { SessionCacheService } from '../session-cache/session-cache.service.js';
import { bodyErrorHandler, jsonBody } from '../http/body-parsing.js';
import { dependencyErrorHandler } from '../http/http-exception.filter.js';
import { answerClientErrors } from '../http/client-errors.js';
import { HELMET_OPTIONS, securityHeaders } from '../http/security-headers.js';

/**
 * The express-level middleware that must run before Nest's router. Shared by main.ts and the
 * tests, so the app under test is the app that ships. Create the app with `bodyParser: false`.
 */
export function configureApp(app: NestExpressApplication): void {
  const config = app.get(AppConfig);
  app.useLogger(app.get(KeelLogger));
  app.set('trust proxy', config.trustProxy);
  app.disable('x-powered-by');
  answerClientErrors(app.getHttpServer());
  app.use(securityHeaders(HELMET_OPTIONS));
  // Before the body parser and the session: the docs are static and public (api-docs.ts).
  setupOpenApi(app);
  app.use(jsonBody, bodyErrorHandler);
  app.use(
    createSessionMiddleware(app.get(SessionCacheService), app.get(SessionSecrets)),
    // A store that cannot be reached is a 503, never a silent logged-out answer.
    dependencyErrorHandler,
  );
}
