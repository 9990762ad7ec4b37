import {
  type BeforeApplicationShutdown,
  Controller,
  Get,
  type OnModuleInit,
  Req,
  Res,
} from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { setTimeout as delay } from 'node:timers/promises';
import { Roles } from '../access/decorators.js';
import { ApiAccess } from '../openapi/access.js';
import { RuntimeReporter } from '../replicas/runtime-reporter.js';
import { RuntimeStateService } from '../runtime-state/runtime-state.service.js';
import { UsersService } from '../users/users.service.js';

/**
 * Each tick the stream checks its session and sends the runtime report if it changed. One
 * second: a session ended on another replica stops working within 1 s (API.md), and a swap's
 * progress moves visibly.
 */
export const EVENTS_TICK_MS = 1000;
/** A comment line this often keeps proxies from closing a quiet stream. */
const KEEP_ALIVE_TICKS = 15;
/** What the browser waits before it reconnects on its own (the `retry` field). */
const RETRY_MS = 2000;

/** Why a stream ended, in its last event: the console signs out or reconnects. */
export type StreamEnd = 'session_ended' | 'draining' | 'unavailable';

const DESCRIPTION = `Server-sent events (\`text/event-stream\`) for the operator console. Events:
- \`runtime\`: \`data\` is the same JSON as \`GET /api/runtime\`, sent at once and then whenever it changes (checked every second);
- \`end\`: \`data\` is \`{"reason": "session_ended" | "draining" | "unavailable"}\`, and the stream closes.

The stream ends when its session ends (logout, revoke, password change, the user disabled or demoted: within a second, on any replica) and when this replica starts draining, so it neither outlives a session nor holds up a shutdown. A client reconnects after \`draining\` or \`unavailable\` (the next replica answers), and signs in again after \`session_ended\`. Comment lines keep a quiet stream open through proxies.`;

@ApiTags('runtime')
@Controller('api/runtime')
@Roles('admin')
export class RuntimeEventsController implements OnModuleInit, BeforeApplicationShutdown {
  /**
   * The streams open now. Ended all at once on a drain, or when the app closes without one
   * (tests, a failed start-up): one listener for all of them, not one per stream on a
   * long-lived signal (AbortSignal.any keeps its dependants alive on Node 20, #55351, and a
   * listener each trips MaxListenersExceededWarning past ten streams).
   */
  private readonly streams = new Set<AbortController>();

  constructor(
    private readonly reporter: RuntimeReporter,
    private readonly runtime: RuntimeStateService,
    private readonly users: UsersService,
  ) {}

  onModuleInit(): void {
    this.runtime.drainingSignal.addEventListener('abort', () => this.endAll(), { once: true });
  }

  beforeApplicationShutdown(): void {
    this.endAll();
  }

  private endAll(): void {
    for (const stream of this.streams) stream.abort();
  }

  @Get('events')
  @ApiOperation({
    summary: 'Live runtime state for the operator console',
    description: DESCRIPTION,
  })
  @ApiOkResponse({
    description: 'An event stream: `runtime` events, then one `end` event.',
    content: {
      'text/event-stream': {
        schema: {
          type: 'string',
          example: 'retry: 2000\n\nevent: runtime\ndata: {"instanceId": "..."}\n\n',
        },
      },
    },
  })
  @ApiAccess('admin')
  async events(@Req() req: Request, @Res() res: Response): Promise<void> {
    const stop = new AbortController();
    let gone = false;
    res.once('close', () => {
      gone = true;
      stop.abort();
    });
    if (this.runtime.drainingSignal.aborted) stop.abort();
    this.streams.add(stop);
    res.status(200).set({
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      // nginx and its kind buffer responses unless told otherwise.
      'X-Accel-Buffering': 'no',
    });
    res.flushHeaders();
    res.write(`retry: ${RETRY_MS}\n\n`);
    const reason = await this.stream(req, res, stop.signal).finally(() =>
      this.streams.delete(stop),
    );
    if (gone) return;
    res.end(`event: end\ndata: ${JSON.stringify({ reason })}\n\n`);
  }

  private async stream(req: Request, res: Response, stop: AbortSignal): Promise<StreamEnd> {
    let sent = '';
    let quiet = 0;
    while (!stop.aborted) {
      try {
        if (!(await this.sessionStillAdmin(req))) return 'session_ended';
        const report = JSON.stringify(await this.reporter.report());
        if (report !== sent) {
          res.write(`event: runtime\ndata: ${report}\n\n`);
          sent = report;
          quiet = 0;
        } else if (++quiet >= KEEP_ALIVE_TICKS) {
          res.write(': keep-alive\n\n');
          quiet = 0;
        }
      } catch {
        // The session store or the database is out of reach: the client retries, and the
        // request it makes then answers 503 or 401 as any other would.
        return 'unavailable';
      }
      await delay(EVENTS_TICK_MS, undefined, { signal: stop }).catch(() => undefined);
    }
    return 'draining';
  }

  /**
   * Asks the store, not the session the request loaded: that copy lives as long as the stream,
   * and ending a session (here or on another replica) removes it from the store only. Past the
   * database backend's read cache, so an end on another replica is seen at the next tick.
   */
  private async sessionStillAdmin(req: Request): Promise<boolean> {
    // Keel's one store (SessionCacheService's KeelSessionStore) is what express-session was given.
    const store = req.sessionStore as unknown as { isStored(sid: string): Promise<boolean> };
    const live = await store.isStored(req.sessionID);
    const userId = live ? req.session.userId : undefined;
    const user = userId ? await this.users.findSignedIn(userId) : undefined;
    return user !== undefined && !user.disabled && user.role === 'admin';
  }
}
