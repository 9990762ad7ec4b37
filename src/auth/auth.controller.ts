import { Body, Controller, Delete, Get, HttpCode, Param, Post, Req, Res } from '@nestjs/common';
import {
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { ApiError } from '../http/api-error.js';
import { ErrorCode } from '../http/error-codes.js';
import { ApiAccess, SESSION_COOKIE_SET } from '../openapi/access.js';
import { ApiErrors } from '../openapi/error-responses.js';
import { toUserSummary } from '../users/user.js';
import { UsersService } from '../users/users.service.js';
import {
  ChangePasswordDto,
  CsrfTokenResponse,
  LoginDto,
  MeResponse,
  OwnSessionResponse,
  SignedInResponse,
} from './auth.dto.js';
import { AuthSessions } from './auth-sessions.service.js';
import { Public, StartsSession } from '../access/decorators.js';
import { signedInUser } from './guards.js';
import { LoginAttemptLimiter } from './login-attempts.js';

@ApiTags('auth')
@Controller('api/auth')
export class AuthController {
  constructor(
    private readonly users: UsersService,
    private readonly sessions: AuthSessions,
    private readonly limiter: LoginAttemptLimiter,
  ) {}

  @Public()
  @Get('csrf')
  @ApiOperation({
    summary: 'Get the CSRF token of your session',
    description:
      "Your session's token; without a session, a signed token (and its cookie, which stores nothing on the server) to send on login and setup. Answers before setup, too.",
  })
  @ApiOkResponse({ type: CsrfTokenResponse })
  @ApiAccess('public', { beforeSetup: true })
  csrf(@Req() req: Request, @Res({ passthrough: true }) res: Response) {
    return { csrfToken: this.sessions.csrfToken(req, res) };
  }

  @Public()
  @StartsSession()
  @Post('login')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Sign in',
    description: 'Starts a new session (a new session id) and returns its CSRF token.',
  })
  @ApiOkResponse({
    type: SignedInResponse,
    description: 'Signed in; the session cookie is set.',
    headers: SESSION_COOKIE_SET,
  })
  @ApiAccess('public', { jsonBody: true })
  @ApiErrors(ErrorCode.InvalidCredentials, ErrorCode.TooManyRequests)
  async login(
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
    @Body() body: LoginDto,
  ) {
    const attempt = await this.limiter.reserve('login', req.ip ?? 'unknown', body.username);
    const user = await attempt.judge(this.users.verifyCredentials(body.username, body.password));
    if (!user) throw new ApiError(401, ErrorCode.InvalidCredentials, 'Wrong username or password');
    await attempt.succeeded();
    const csrfToken = await this.sessions.establish(req, res, user);
    return { user: toUserSummary(user), csrfToken };
  }

  @Public()
  @Post('logout')
  @HttpCode(204)
  @ApiOperation({ summary: 'Sign out: ends the session and clears the cookie' })
  @ApiNoContentResponse({
    description: 'Signed out (also when there was no session, or the cookie named none).',
  })
  @ApiAccess('public', { unsafe: true })
  async logout(@Req() req: Request): Promise<void> {
    // The session middleware clears the cookie of a session that ended.
    await this.sessions.end(req);
  }

  @Get('me')
  @ApiOperation({ summary: 'The signed-in user' })
  @ApiOkResponse({ type: MeResponse })
  @ApiAccess('signedIn')
  me(@Req() req: Request) {
    return { user: toUserSummary(signedInUser(req)) };
  }

  @Post('password')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Change your password',
    description: 'Every other session of yours ends; this one continues.',
  })
  @ApiNoContentResponse({ description: 'Changed.' })
  @ApiAccess('signedIn', { jsonBody: true })
  @ApiErrors(ErrorCode.TooManyRequests)
  async changePassword(@Req() req: Request, @Body() body: ChangePasswordDto): Promise<void> {
    const userId = req.session.userId!;
    const current = await this.users.findById(userId);
    if (!current)
      throw new ApiError(401, ErrorCode.Unauthenticated, 'Sign in first: POST /api/auth/login');
    const attempt = await this.limiter.reserve('password', req.ip ?? 'unknown', current.username);
    const verified = await attempt.judge(
      this.users.verifyCredentials(current.username, body.currentPassword),
    );
    if (!verified) {
      const message = 'currentPassword is not your current password';
      throw new ApiError(400, ErrorCode.ValidationFailed, message, [
        { field: 'currentPassword', message },
      ]);
    }
    await attempt.succeeded();
    await this.users.update(
      userId,
      { password: body.newPassword },
      { keepSessionId: req.sessionID },
    );
  }

  @Get('sessions')
  @ApiOperation({ summary: 'Your sessions' })
  @ApiOkResponse({ type: [OwnSessionResponse] })
  @ApiAccess('signedIn')
  sessionsOfCaller(@Req() req: Request) {
    return this.sessions.list(signedInUser(req).id, req.sessionID);
  }

  @Delete('sessions/:id')
  @HttpCode(204)
  @ApiOperation({ summary: 'End one of your sessions', description: 'It stops working at once.' })
  @ApiParam({ name: 'id', description: 'The handle from `GET /api/auth/sessions`.' })
  @ApiNoContentResponse({ description: 'Ended.' })
  @ApiAccess('signedIn', { unsafe: true })
  @ApiErrors(ErrorCode.NotFound)
  async revokeSession(@Req() req: Request, @Param('id') id: string): Promise<void> {
    if (!(await this.sessions.revoke(signedInUser(req).id, id))) {
      throw new ApiError(404, ErrorCode.NotFound, 'You have no session with this id');
    }
  }
}
