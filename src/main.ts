import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module.js';
import { AppConfig } from './config/app-config.js';
import { EnvironmentError } from './config/environment.js';
import { configureApp } from './http/configure-app.js';

async function bootstrap(): Promise<void> {
  let module;
  try {
    module = AppModule.forRoot();
  } catch (error) {
    if (error instanceof EnvironmentError) {
      // One line naming the variable: an operator fixes it without reading a stack trace.
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const app = await NestFactory.create<NestExpressApplication>(module, {
    bufferLogs: true,
    bodyParser: false,
    abortOnError: false,
  });
  configureApp(app);
  app.enableShutdownHooks();
  const config = app.get(AppConfig);
  await app.listen(config.port, config.host);
  const shownHost = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  app.get(Logger).log(`Keel listening on http://${shownHost}:${port}`, 'Bootstrap');
}

bootstrap().catch((error: unknown) => {
  process.stderr.write(
    `Keel failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
