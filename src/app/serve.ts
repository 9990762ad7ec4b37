import type { INestApplication } from '@nestjs/common';
import type { AddressInfo } from 'node:net';
import { KeelLogger } from '../logging/keel-logger.js';
import { ignoreOutputErrors } from '../logging/stdout-destination.js';
import { AppConfig } from '../config/app-config.js';
import { GracefulShutdown } from '../runtime-state/graceful-shutdown.js';
import { ProcessCrashGuard } from '../runtime-state/process-crash-guard.js';
import { RuntimeStateService } from '../runtime-state/runtime-state.service.js';

/**
 * Runs a configured app as the real process: crash handlers, output errors ignored (a reader
 * that went away must not end it), listen (which runs every `onApplicationBootstrap` hook
 * first), phase `ready`, SIGTERM/SIGINT/SIGHUP handling. main.ts uses it, and so does the
 * drain test's server, so what is tested is what ships.
 */
export async function serve(app: INestApplication): Promise<AddressInfo> {
  const config = app.get(AppConfig);
  app.get(ProcessCrashGuard).install();
  ignoreOutputErrors();
  await app.listen(config.port, config.host);
  app.get(RuntimeStateService).markReady();
  app.get(GracefulShutdown).installSignalHandlers(app);

  // Last: whoever waits for this line (scripts, the tests' process helpers) finds start-up
  // done, the setup link included.
  const address = app.getHttpServer().address() as AddressInfo;
  const shownHost = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  app.get(KeelLogger).log(`Keel listening on http://${shownHost}:${address.port}`, 'Bootstrap');
  return address;
}
