import { Injectable, type OnModuleInit } from '@nestjs/common';
import { DatabaseService } from '../database/database.service.js';
import { ReadinessRegistry } from '../runtime-state/readiness-registry.js';

/** Readiness check `database`: one trivial query (DatabaseService.ping). */
@Injectable()
export class DatabaseReadiness implements OnModuleInit {
  constructor(
    private readonly readiness: ReadinessRegistry,
    private readonly database: DatabaseService,
  ) {}

  onModuleInit(): void {
    // ping's own timeout sits under the registry's, so a hung pool reports its own message.
    this.readiness.register('database', () => this.database.ping(1500));
  }
}
