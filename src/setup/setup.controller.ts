import { Body, Controller, Get, Post, Req, Res } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { AuthSessions } from '../auth/auth-sessions.service.js';
import { Public, StartsSession } from '../access/decorators.js';
import { ErrorCode } from '../http/error-codes.js';
import { ApiAccess, SESSION_COOKIE_SET } from '../openapi/access.js';
import { ApiErrors } from '../openapi/error-responses.js';
import { toUserSummary } from '../users/user.js';
import { CompleteSetupDto, SetupCompletedResponse, SetupStatusResponse } from './setup.dto.js';
import { SetupService, type SetupStatus } from './setup.service.js';

/** First-run setup (docs/api.md, "First-run setup"). Exempt from the setup gate. */
@ApiTags('setup')
@Controller('api/setup')
@Public()
export class SetupController {
  constructor(
    private readonly setup: SetupService,
    private readonly sessions: AuthSessions,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Whether first-run setup is still required' })
  @ApiOkResponse({ type: SetupStatusResponse })
  @ApiAccess('public', { beforeSetup: true })
  status(): Promise<SetupStatus> {
    return this.setup.status();
  }

  /** `201 {user, csrfToken}`; the new admin is signed in on this request's session. */
  @Post()
  @StartsSession()
  @ApiOperation({
    summary: 'Complete first-run setup: create the first admin, signed in',
    description: 'Single-use: of concurrent calls, exactly one succeeds.',
  })
  @ApiCreatedResponse({
    type: SetupCompletedResponse,
    description: 'Setup is complete; the session cookie is set.',
    headers: SESSION_COOKIE_SET,
  })
  @ApiAccess('public', { jsonBody: true, beforeSetup: true })
  @ApiErrors(
    ErrorCode.SetupTokenInvalid,
    ErrorCode.SetupCompleted,
    ErrorCode.TooManyRequests,
    ErrorCode.UsernameTaken,
    ErrorCode.BackendUnavailable,
  )
  async complete(
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
    @Body() body: CompleteSetupDto,
  ) {
    const { admin, settings } = await this.setup.complete({
      token: body.token,
      admin: body.admin,
      // The DTO checked the envelope; the settings go on as the client sent them, because
      // class-transformer drops keys (`constructor`, ...) that the settings schema must see.
      settings: (req.body as { settings?: unknown }).settings ?? undefined,
      ip: req.ip ?? 'unknown',
    });
    const csrfToken = await this.sessions.establish(req, res, admin);
    return { user: toUserSummary(admin), csrfToken, ...(settings ? { settings } : {}) };
  }
}
