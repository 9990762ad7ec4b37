import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from './app.module.js';
import { EnvironmentError } from './config/environment.js';
import { configureApp } from './app/configure-app.js';
import { serve } from './app/serve.js';

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
  // Listens, marks the instance ready, and handles SIGTERM/SIGINT with a graceful drain that
  // ends in app.close(); so no app.enableShutdownHooks() here (docs/operations.md).
  await serve(app);
}

bootstrap().catch((error: unknown) => {
  process.stderr.write(
    `Keel failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
