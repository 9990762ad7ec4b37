import { Inject, Injectable, type LoggerService } from '@nestjs/common';
import type { Level } from 'pino';
import { redacting, ROOT_LOGGER, type RootLogger } from './root-logger.js';

/** Nest's stack-trace argument, as its exception handlers pass it: `error(message, stack)`. */
const STACK_TRACE = /\n\s*at /;

/**
 * Nest's start-up chatter (a line per module and per route, "starting", "started"): at debug,
 * so what a person sees at start-up is Keel's own few lines. Their warnings and errors stay.
 */
const NEST_STARTUP_CONTEXTS: ReadonlySet<string> = new Set([
  'NestFactory',
  'InstanceLoader',
  'RoutesResolver',
  'RouterExplorer',
  'NestApplication',
]);

/**
 * Nest's LoggerService over the app's pino instance, so `new Logger('Context')` lines are JSON
 * lines with a `context` field. An object message is merged into the line (`{ phase, msg }`);
 * an Error becomes `err`, serialized with its stack. Credentials are redacted. Nest's own
 * start-up lines are debug, not info.
 */
@Injectable()
export class KeelLogger implements LoggerService {
  private readonly root: RootLogger;

  constructor(@Inject(ROOT_LOGGER) root: RootLogger) {
    this.root = redacting(root);
  }

  verbose(message: unknown, ...optionalParams: unknown[]): void {
    this.write('trace', message, optionalParams);
  }

  debug(message: unknown, ...optionalParams: unknown[]): void {
    this.write('debug', message, optionalParams);
  }

  log(message: unknown, ...optionalParams: unknown[]): void {
    const context = optionalParams.at(-1);
    const chatter = typeof context === 'string' && NEST_STARTUP_CONTEXTS.has(context);
    this.write(chatter ? 'debug' : 'info', message, optionalParams);
  }

  warn(message: unknown, ...optionalParams: unknown[]): void {
    this.write('warn', message, optionalParams);
  }

  error(message: unknown, ...optionalParams: unknown[]): void {
    this.write('error', message, optionalParams);
  }

  fatal(message: unknown, ...optionalParams: unknown[]): void {
    this.write('fatal', message, optionalParams);
  }

  private write(level: Level, message: unknown, optionalParams: unknown[]): void {
    if (!this.root.isLevelEnabled(level)) return;
    // Nest passes the context last: `logger.log(message, 'Context')`.
    const params = [...optionalParams];
    const context = typeof params.at(-1) === 'string' ? params.pop() : undefined;
    const line: Record<string, unknown> = context === undefined ? {} : { context };
    if (message instanceof Error) {
      line.err = message;
      this.root[level](line, message.message);
    } else if (typeof message === 'object' && message !== null) {
      Object.assign(line, message);
      this.root[level](line);
    } else if (level === 'error' && typeof params[0] === 'string' && STACK_TRACE.test(params[0])) {
      const err = new Error(String(message));
      err.stack = params[0];
      line.err = err;
      this.root[level](line, String(message));
    } else {
      this.root[level](line, String(message));
    }
  }
}
