import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { RuntimeStateService } from './runtime-state.service.js';

/**
 * The last line of defence for errors nothing caught. An unhandled rejection marks the process
 * broken (liveness fails, Kubernetes restarts it) but keeps serving meanwhile: the request
 * that caused it already got its answer. An uncaught exception may have left any state half
 * changed, so, as Node advises, the process logs it and exits non-zero at once.
 *
 * Installed by `serve()` for the real process only (tests boot many apps in one process), and
 * removed when the app shuts down.
 */
@Injectable()
export class ProcessCrashGuard implements OnApplicationShutdown {
  private readonly logger = new Logger(ProcessCrashGuard.name);
  private installed:
    { rejection: (reason: unknown) => void; exception: (error: unknown) => void } | undefined;

  constructor(private readonly runtime: RuntimeStateService) {}

  install(): void {
    if (this.installed) return;
    const rejection = (reason: unknown) => {
      const message = reason instanceof Error ? reason.message : String(reason);
      this.logger.error(
        `Unhandled promise rejection: ${message}`,
        reason instanceof Error ? reason.stack : undefined,
      );
      this.runtime.markBroken(`unhandled promise rejection: ${message}`);
    };
    const exception = (error: unknown) => {
      // error, not fatal: the (message, stack) form is what puts the stack in the JSON line.
      this.logger.error(
        `Uncaught exception, exiting: ${error instanceof Error ? error.message : String(error)}`,
        error instanceof Error ? error.stack : undefined,
      );
      process.exit(1);
    };
    process.on('unhandledRejection', rejection);
    process.on('uncaughtException', exception);
    this.installed = { rejection, exception };
  }

  uninstall(): void {
    if (!this.installed) return;
    process.off('unhandledRejection', this.installed.rejection);
    process.off('uncaughtException', this.installed.exception);
    this.installed = undefined;
  }

  onApplicationShutdown(): void {
    this.uninstall();
  }
}
