import { Controller, Get, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheck, type HealthCheckResult } from '@nestjs/terminus';
import type { Response } from 'express';
import { HealthProbes } from './health-probes.js';
import { Public } from '../access/decorators.js';
import { ApiHealthResponses } from '../openapi/health-responses.js';

/**
 * The Kubernetes probes (docs/api.md, "Routes"; docs/operations.md): no auth, no CSRF, no rate limit, never
 * gated by setup, not logged per request. 200 when the probe passes, 503 otherwise; the body is
 * terminus' `{status, info, error, details}` either way (the global error filter is bypassed:
 * its error shape would drop the check names).
 */
@ApiTags('health')
@Public()
@Controller('health')
export class HealthController {
  constructor(private readonly probes: HealthProbes) {}

  @Get('live')
  @HealthCheck({ noCache: true, swaggerDocumentation: false })
  @ApiOperation({
    summary: 'Liveness: 503 once the process is broken (never for a dependency being down)',
  })
  @ApiHealthResponses()
  async live(@Res({ passthrough: true }) response: Response): Promise<HealthCheckResult> {
    return answer(response, await this.probes.live());
  }

  @Get('ready')
  @HealthCheck({ noCache: true, swaggerDocumentation: false })
  @ApiOperation({
    summary:
      'Readiness: 503 while starting or draining, or when the database or session cache fails',
  })
  @ApiHealthResponses()
  async ready(@Res({ passthrough: true }) response: Response): Promise<HealthCheckResult> {
    return answer(response, await this.probes.ready());
  }

  @Get('startup')
  @HealthCheck({ noCache: true, swaggerDocumentation: false })
  @ApiOperation({ summary: 'Start-up: 503 until start-up work (migrations, settings) is done' })
  @ApiHealthResponses()
  async startup(@Res({ passthrough: true }) response: Response): Promise<HealthCheckResult> {
    return answer(response, await this.probes.startup());
  }
}

function answer(response: Response, result: HealthCheckResult): HealthCheckResult {
  response.status(HealthProbes.passed(result) ? 200 : 503);
  return result;
}
