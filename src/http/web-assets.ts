import { Controller, Get, Injectable, Logger, Param, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { readdirSync, readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Public } from '../access/decorators.js';
import { ApiError } from './api-error.js';
import { ErrorCode } from './error-codes.js';

/** Where `npm run build` writes the browser code (web/build.mjs): dist/web from src/ or dist/. */
const WEB_DIR = new URL('../../dist/web/', import.meta.url);
const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

interface Asset {
  readonly type: string;
  readonly body: Buffer;
  readonly gzipped: Buffer;
}

/**
 * The browser code the pages load (`/assets/<file>`), read once at start-up from dist/web and
 * kept gzipped beside the plain bytes, so a page costs no disk read and no compression per
 * request. Missing before a build (a test run on src/ without `npm run build`): the pages then
 * still answer, and their assets 404 with a message saying so.
 */
@Injectable()
export class WebAssets {
  private readonly logger = new Logger(WebAssets.name);
  private readonly assets = new Map<string, Asset>();

  constructor() {
    let names: string[] = [];
    try {
      names = readdirSync(WEB_DIR);
    } catch {
      this.logger.warn('dist/web is missing: run `npm run build` for the web pages to work');
    }
    for (const name of names) {
      const type = TYPES[extname(name)];
      if (!type) continue;
      const body = readFileSync(new URL(name, WEB_DIR));
      this.assets.set(name, { type, body, gzipped: gzipSync(body, { level: 9 }) });
    }
  }

  get(name: string): Asset | undefined {
    return this.assets.get(name);
  }
}

@ApiExcludeController()
@Controller('assets')
@Public()
export class WebAssetsController {
  constructor(private readonly assets: WebAssets) {}

  @Get(':file')
  serve(@Param('file') file: string, @Req() req: Request, @Res() res: Response): void {
    const asset = this.assets.get(file);
    if (!asset) {
      throw new ApiError(404, ErrorCode.NotFound, `No asset ${file}; is the web code built?`);
    }
    // Names carry no hash: the browser asks again each time (cheap: a few kB, gzipped).
    res.set({ 'Content-Type': asset.type, 'Cache-Control': 'no-cache', Vary: 'Accept-Encoding' });
    if (acceptsGzip(req.headers['accept-encoding'])) {
      res.set('Content-Encoding', 'gzip').send(asset.gzipped);
    } else {
      res.send(asset.body);
    }
  }
}

/**
 * Whether an `Accept-Encoding` header (RFC 9110, 12.5.3) accepts gzip: named (or `x-gzip`, or
 * `*` when gzip is not named) with a q-value above 0. `gzip;q=0` means "not gzip".
 */
export function acceptsGzip(header: string | undefined): boolean {
  let gzip: number | undefined;
  let any: number | undefined;
  for (const entry of (header ?? '').split(',')) {
    const [coding = '', ...params] = entry.split(';').map((part) => part.trim().toLowerCase());
    const q = params.find((param) => /^q\s*=/.test(param));
    const weight = q === undefined ? 1 : Number(q.replace(/^q\s*=\s*/, ''));
    const value = Number.isFinite(weight) ? weight : 0;
    if (coding === 'gzip' || coding === 'x-gzip') gzip = Math.max(gzip ?? 0, value);
    else if (coding === '*') any = value;
  }
  return (gzip ?? any ?? 0) > 0;
}
