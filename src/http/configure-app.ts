import type { NestExpressApplication } from '@nestjs/platform-express';
import { KeelLogger } from '../logging/keel-logger.js';
import { createSessionMiddleware, sessionErrorHandler } from '../auth/session-middleware.js';
import { SessionSecrets } from '../auth/session-secrets.js';
import { AppConfig } from '../config/app-config.js';
import { setupOpenApi } from '../openapi/openapi.js';
import { SessionCacheService } from '../session-cache/session-cache.service.js';
import { bodyErrorHandler, jsonBody } from './body-parsing.js';
import { answerClientErrors } from './client-errors.js';
import { HELMET_OPTIONS, securityHeaders } from './security-headers.js';

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
  // Before the body parser and the session: the docs are static and public (src/openapi/).
  setupOpenApi(app);
  app.use(jsonBody, bodyErrorHandler);
  app.use(
    createSessionMiddleware(app.get(SessionCacheService), app.get(SessionSecrets)),
    sessionErrorHandler,
  );
}
