import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { DatabaseService } from '../database/database.service.js';
import { TaskSupervisor } from '../tasks/task-supervisor.js';
import { DatabaseSessionBackend } from './backends/database-session.backend.js';

const SWEEP_INTERVAL_MS = 60_000;
const SWEEP_DEADLINE_MS = 30_000;

/**
 * Deletes expired rows of the `database` backend every minute (a supervised task). Expired rows
 * are invisible to reads already; this only keeps the table small. It runs whatever backend is
 * active, so rows left from an earlier era on `database` go too.
 */
@Injectable()
export class SessionSweeper implements OnModuleInit {
  private readonly logger = new Logger(SessionSweeper.name);

  constructor(
    private readonly database: DatabaseService,
    private readonly tasks: TaskSupervisor,
  ) {}

  onModuleInit(): void {
    this.tasks.registerPeriodic({
      name: 'session-sweeper',
      critical: false,
      intervalMs: SWEEP_INTERVAL_MS,
      // One DELETE of the expired rows; a sweep abandoned (or left to finish late) is harmless.
      timeoutMs: SWEEP_DEADLINE_MS,
      run: async () => {
        const removed = await new DatabaseSessionBackend(this.database.db).deleteExpired();
        if (removed > 0) this.logger.debug(`Swept ${removed} expired sessions`);
      },
    });
  }
}
