import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildOpenApiDocument } from '../app/api-docs.js';
import { AppModule } from '../app.module.js';

// node dist/tools/openapi-document.js [--out openapi.json]
// Writes the OpenAPI document Keel serves at /api/docs/openapi.json, without starting a server
// or touching a database (a throw-away data directory, deleted after): for generating clients
// (`npm run api:client`) and linting the document (`npm run lint:api`). Exit codes: 0 written,
// 1 failed, 2 bad arguments.

const USAGE = 'Usage: node dist/tools/openapi-document.js [--out <file>]   (default: stdout)';

async function main(): Promise<number> {
  let out: string | undefined;
  try {
    ({
      values: { out },
    } = parseArgs({ options: { out: { type: 'string' } } }));
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
    return 2;
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'keel-openapi-'));
  try {
    // The document depends on the code only: no environment of the caller's is read.
    const module = AppModule.forRoot({ env: { DATA_DIR: dataDir, LOG_LEVEL: 'silent' } });
    const app = await NestFactory.create<NestExpressApplication>(module, {
      bodyParser: false,
      logger: false,
      abortOnError: false,
    });
    // The document is read from the modules' metadata: no init(), so no bootstrap hook runs
    // and nothing is migrated, listened on or connected to.
    const document = buildOpenApiDocument(app);
    await app.close();
    const text = `${JSON.stringify(document, null, 2)}\n`;
    if (out) {
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(out, text);
    } else process.stdout.write(text);
    return 0;
  } catch (error) {
    process.stderr.write(
      `Could not build the OpenAPI document: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    return 1;
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

process.exitCode = await main();
