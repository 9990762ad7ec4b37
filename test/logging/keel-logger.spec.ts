import { pino } from 'pino';
import { KeelLogger } from '../../src/logging/keel-logger.js';
import { collectLogLines } from '../support/log-lines.js';

function loggerWithLines(): { logger: KeelLogger; lines: Record<string, unknown>[] } {
  const { destination, lines } = collectLogLines();
  return { logger: new KeelLogger(pino({ level: 'info' }, destination)), lines };
}

describe("KeelLogger (Nest's logger over pino)", () => {
  it('writes a message with its context, and merges an object message into the line', () => {
    const { logger, lines } = loggerWithLines();
    logger.log('Keel listening', 'Bootstrap');
    logger.warn({ msg: 'Phase changed', phase: 'draining' }, 'RuntimeStateService');
    expect(lines).toEqual([
      expect.objectContaining({ level: 30, context: 'Bootstrap', msg: 'Keel listening' }),
      expect.objectContaining({
        level: 40,
        context: 'RuntimeStateService',
        msg: 'Phase changed',
        phase: 'draining',
      }),
    ]);
  });

  it('redacts credentials an app line passes by mistake', () => {
    const { logger, lines } = loggerWithLines();
    logger.log({ msg: 'oops', body: { password: 'hunter2', token: 'abc' } }, 'Somewhere');
    expect(JSON.stringify(lines)).not.toMatch(/hunter2|abc/);
    expect(lines[0]).toMatchObject({ body: { password: '[redacted]', token: '[redacted]' } });
  });

  it("keeps an error's stack, whether passed as an Error or as Nest's (message, stack)", () => {
    const { logger, lines } = loggerWithLines();
    logger.error(new Error('boom'), 'Worker');
    logger.error('failed', 'Error: failed\n    at somewhere (file.js:1:1)', 'ExceptionsHandler');
    expect(lines[0]).toMatchObject({ context: 'Worker', msg: 'boom' });
    expect((lines[0]!.err as { stack: string }).stack).toContain('Error: boom');
    expect(lines[1]).toMatchObject({ context: 'ExceptionsHandler', msg: 'failed' });
    expect((lines[1]!.err as { stack: string }).stack).toContain('at somewhere');
  });

  it('does not build lines below the level', () => {
    const { logger, lines } = loggerWithLines();
    logger.debug('hidden', 'Somewhere');
    logger.verbose('hidden too', 'Somewhere');
    expect(lines).toEqual([]);
  });

  it("puts Nest's start-up chatter at debug, but keeps its warnings and everyone else's info", () => {
    const { destination, lines } = collectLogLines();
    const logger = new KeelLogger(pino({ level: 'debug' }, destination));
    logger.log('AppModule dependencies initialized', 'InstanceLoader');
    logger.log('Mapped {/api/users, GET} route', 'RouterExplorer');
    logger.log('UsersController {/api/users}:', 'RoutesResolver');
    logger.log('Starting Nest application...', 'NestFactory');
    logger.log('Nest application successfully started', 'NestApplication');
    logger.warn('something odd', 'NestApplication');
    logger.log('Keel listening on http://localhost:3000', 'Bootstrap');
    expect(lines.map((line) => [line.level, line.context])).toEqual([
      [20, 'InstanceLoader'],
      [20, 'RouterExplorer'],
      [20, 'RoutesResolver'],
      [20, 'NestFactory'],
      [20, 'NestApplication'],
      [40, 'NestApplication'],
      [30, 'Bootstrap'],
    ]);
  });
});
