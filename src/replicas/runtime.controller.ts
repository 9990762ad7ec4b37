import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Roles } from '../access/decorators.js';
import { ApiAccess } from '../openapi/access.js';
import type { RuntimeReport } from './runtime-report.js';
import { RuntimeReporter } from './runtime-reporter.js';
import { RuntimeReportResponse } from './runtime.dto.js';

@ApiTags('runtime')
@Controller('api/runtime')
@Roles('admin')
export class RuntimeController {
  constructor(private readonly reporter: RuntimeReporter) {}

  @Get()
  @ApiOperation({ summary: 'This instance’s runtime state: phase, session cache, tasks' })
  @ApiOkResponse({ type: RuntimeReportResponse })
  @ApiAccess('admin')
  report(): Promise<RuntimeReport> {
    return this.reporter.report();
  }
}
