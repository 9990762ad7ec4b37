import { Controller, Get, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { Public } from '../access/decorators.js';
import { AppConfig } from '../config/app-config.js';
import { ApiError } from '../http/api-error.js';
import { ErrorCode } from '../http/error-codes.js';
import { METRICS_TOKEN_SCHEME } from '../openapi/access.js';
import { ApiErrors } from '../openapi/error-responses.js';
import { bearerTokenMatches } from './metrics-access.js';
import { MetricsRegistry } from './metrics-registry.js';

/**
 * `GET /metrics` on the main port: only when `METRICS_TOKEN` is set, and only with
 * `Authorization: Bearer <METRICS_TOKEN>`. Without a token configured the route answers as if
 * it did not exist (scrape the `METRICS_PORT` server instead). No session, no CSRF: the session
 * middleware skips `/metrics`, and the route is public to the session guard.
 */
@ApiTags('metrics')
@Controller('metrics')
@Public()
export class MetricsController {
  constructor(
    private readonly config: AppConfig,
    private readonly metrics: MetricsRegistry,
  ) {}

  @Get()
  @ApiOperation({
    summary: 'Prometheus metrics (only when METRICS_TOKEN is set; 404 otherwise)',
  })
  @ApiBearerAuth(METRICS_TOKEN_SCHEME)
  @ApiOkResponse({
    description: 'The Prometheus text exposition format.',
    content: { 'text/plain': { schema: { type: 'string' } } },
  })
  @ApiErrors(ErrorCode.Unauthenticated, ErrorCode.NotFound)
  async scrape(@Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<string> {
    const token = this.config.metricsToken;
    if (!token) throw new ApiError(404, ErrorCode.NotFound, 'Cannot GET /metrics');
    if (!bearerTokenMatches(req.headers.authorization, token)) {
      throw new ApiError(
        401,
        ErrorCode.Unauthenticated,
        'Send the metrics token: Authorization: Bearer <METRICS_TOKEN>',
        undefined,
        { 'WWW-Authenticate': 'Bearer realm="metrics"' },
      );
    }
    const body = await this.metrics.scrape();
    res.setHeader('Content-Type', this.metrics.contentType);
    res.setHeader('Cache-Control', 'no-store');
    return body;
  }
}
