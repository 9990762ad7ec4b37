import { Injectable, Logger } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { AppConfig } from '../config/app-config.js';
import { DataDirectory } from '../config/data-directory.js';
import { SETUP_URL_FIELD } from '../logging/terminal-lines.js';
import { RuntimeStateService } from '../runtime-state/runtime-state.service.js';
import { hashSetupToken, newSetupToken, setupTokenHashesMatch } from './setup-token.js';
import { SetupRepository, type SetupState } from './setup.repository.js';

export const SETUP_TOKEN_FILE = 'setup-token';

/** What this replica tells the operator once it listens. */
type Announcement =
  | { kind: 'minted'; token: string; file: string | undefined }
  | { kind: 'preset' }
  | { kind: 'existing'; createdAt: number | null; inLocalFile: boolean };

/**
 * The setup token's life on this replica, while setup is required. At start-up it either
 * stores SETUP_TOKEN's hash (the environment wins over any stored token, so every replica
 * started with it agrees), or mints a token if none is stored: one conditional write, so only
 * the first replica mints and only it knows the plaintext, which it writes to
 * `DATA_DIR/setup-token` (mode 0600) and prints once, as a URL, when the server listens (the
 * real port is known only then). When this replica learns setup is complete it deletes the file.
 */
@Injectable()
export class SetupTokens {
  private readonly logger = new Logger(SetupTokens.name);
  private readonly file: string;
  /** Held from start-up until the announcement; the plaintext is not kept after that. */
  private pending: Announcement | undefined;

  constructor(
    private readonly config: AppConfig,
    private readonly dataDirectory: DataDirectory,
    private readonly repository: SetupRepository,
    private readonly runtime: RuntimeStateService,
    private readonly adapterHost: HttpAdapterHost,
  ) {
    this.file = join(config.dataDir, SETUP_TOKEN_FILE);
  }

  /** Makes sure a token is stored (`state`: the setup state just read, setup required). */
  async prepare(state: SetupState): Promise<void> {
    const now = Date.now();
    if (this.config.setupToken) {
      const hash = hashSetupToken(this.config.setupToken);
      if (state.tokenHash !== hash) await this.repository.replaceTokenHash(hash, now);
      // A token minted by an earlier start is dead now; don't leave it lying around.
      this.forget();
      this.pending = { kind: 'preset' };
    } else {
      const token = newSetupToken();
      if (await this.repository.storeTokenHashIfAbsent(hashSetupToken(token), now)) {
        this.pending = { kind: 'minted', token, file: this.writeFile(token) };
      } else {
        const stored = await this.repository.load();
        this.pending = {
          kind: 'existing',
          createdAt: stored.tokenCreatedAt,
          inLocalFile: setupTokenHashesMatch(
            stored.tokenHash,
            hashSetupToken(this.readFile() ?? ''),
          ),
        };
      }
    }
    this.runtime.onReady(() => this.announce());
  }

  /** Deletes this replica's token file, if any: setup is complete, or the token was replaced. */
  forget(): void {
    try {
      rmSync(this.file);
      this.logger.log(`Removed the setup token file ${this.file}`);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.logger.warn(
          `Could not remove ${this.file} (the token in it no longer works): ${describe(error)}`,
        );
      }
    }
  }

  /**
   * One line, whose `setupUrl` field is the link to open (on a terminal it is shown framed on a
   * line of its own: src/logging/terminal-lines.ts). The messages never repeat the link, so a
   * minted token is on that line only.
   */
  private announce(): void {
    const announcement = this.pending;
    this.pending = undefined;
    if (!announcement) return;
    const page = `${this.listeningOrigin()}/setup`;
    switch (announcement.kind) {
      case 'minted':
        // The one log line with the token: whoever can read the log (or the file) may set up.
        this.logger.warn({
          msg:
            'Setup required: open the setup link to create the first admin. ' +
            (announcement.file ? `The token is also in ${announcement.file}. ` : '') +
            'It works on every replica, once.',
          [SETUP_URL_FIELD]: `${page}#token=${announcement.token}`,
        });
        return;
      case 'preset':
        this.logger.warn({
          msg: 'Setup required: open the setup link and enter SETUP_TOKEN (or add #token=<SETUP_TOKEN> to it) to create the first admin',
          [SETUP_URL_FIELD]: page,
        });
        return;
      case 'existing': {
        const since = announcement.createdAt
          ? ` (created ${new Date(announcement.createdAt).toISOString()})`
          : '';
        const where = announcement.inLocalFile
          ? `it is in ${this.file}`
          : `the replica that created it printed it in its log and wrote it to ${SETUP_TOKEN_FILE} in its DATA_DIR; or restart with SETUP_TOKEN set to choose one`;
        this.logger.warn({
          msg: `Setup required: open the setup link with the setup token${since}: ${where}`,
          [SETUP_URL_FIELD]: page,
        });
        return;
      }
    }
  }

  /** Where this server is reached: the bound port, and the bound address unless a wildcard. */
  private listeningOrigin(): string {
    const address = this.adapterHost.httpAdapter.getHttpServer().address() as AddressInfo | null;
    const bound = address?.address ?? this.config.host;
    const host = bound === '0.0.0.0' || bound === '::' ? 'localhost' : bound;
    const port = address?.port ?? this.config.port;
    return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  }

  /** The token file's path, or undefined when it could not be written (the log still has it). */
  private writeFile(token: string): string | undefined {
    try {
      return this.dataDirectory.writePrivateFile(SETUP_TOKEN_FILE, `${token}\n`);
    } catch (error) {
      this.logger.warn(`Could not write the setup token to ${this.file}: ${describe(error)}`);
      return undefined;
    }
  }

  private readFile(): string | undefined {
    try {
      return readFileSync(this.file, 'utf8').trim();
    } catch {
      return undefined;
    }
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
