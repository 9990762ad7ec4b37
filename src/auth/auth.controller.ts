import { Body, Controller, Delete, Get, HttpCode, Param, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { ApiError } from '../http/api-error.js';
import { ErrorCode } from '../http/error-codes.js';
import { toUserSummary } from '../users/user.js';
import { UsersService } from '../users/users.service.js';
import { ChangePasswordDto, LoginDto } from './auth.dto.js';
import { AuthSessions } from './auth-sessions.service.js';
import { Public } from './decorators.js';
import { signedInUser } from './guards.js';
import { LoginAttemptLimiter } from './login-attempts.js';
import { cookieNameFor } from './session-cookie.js';

@Controller('api/auth')
export class AuthController {
  constructor(
    private readonly users: UsersService,
    private readonly sessions: AuthSessions,
    private readonly limiter: LoginAttemptLimiter,
  ) {}

  @Public()
  @Get('csrf')
  async csrf(@Req() req: Request) {
    return { csrfToken: await this.sessions.csrfToken(req) };
  }

  @Public()
  @Post('login')
  @HttpCode(200)
  async login(@Req() req: Request, @Body() body: LoginDto) {
    const ip = req.ip ?? 'unknown';
    await this.limiter.check('login', body.username, ip);
    const user = await this.users.verifyCredentials(body.username, body.password);
    if (!user) {
      await this.limiter.recordFailure('login', body.username, ip);
      throw new ApiError(401, ErrorCode.InvalidCredentials, 'Wrong username or password');
    }
    await this.limiter.recordSuccess('login', body.username);
    const csrfToken = await this.sessions.establish(req, user);
    return { user: toUserSummary(user), csrfToken };
  }

  @Public()
  @Post('logout')
  @HttpCode(204)
  async logout(@Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<void> {
    await this.sessions.end(req);
    res.clearCookie(cookieNameFor(req), {
      path: '/',
      httpOnly: true,
      sameSite: 'lax',
      secure: req.secure,
    });
  }

  @Get('me')
  me(@Req() req: Request) {
    return { user: toUserSummary(signedInUser(req)) };
  }

  @Post('password')
  @HttpCode(204)
  async changePassword(@Req() req: Request, @Body() body: ChangePasswordDto): Promise<void> {
    const userId = req.session.userId!;
    const ip = req.ip ?? 'unknown';
    const current = await this.users.findById(userId);
    if (!current)
      throw new ApiError(401, ErrorCode.Unauthenticated, 'Sign in first: POST /api/auth/login');
    await this.limiter.check('password', current.username, ip);
    if (!(await this.users.verifyCredentials(current.username, body.currentPassword))) {
      await this.limiter.recordFailure('password', current.username, ip);
      const message = 'currentPassword is not your current password';
      throw new ApiError(400, ErrorCode.ValidationFailed, message, [
        { field: 'currentPassword', message },
      ]);
    }
    await this.users.update(
      userId,
      { password: body.newPassword },
      { keepSessionId: req.sessionID },
    );
  }

  @Get('sessions')
  sessionsOfCaller(@Req() req: Request) {
    return this.sessions.list(signedInUser(req).id, req.sessionID);
  }

  @Delete('sessions/:id')
  @HttpCode(204)
  async revokeSession(@Req() req: Request, @Param('id') id: string): Promise<void> {
    if (!(await this.sessions.revoke(signedInUser(req).id, id))) {
      throw new ApiError(404, ErrorCode.NotFound, 'You have no session with this id');
    }
  }
}
