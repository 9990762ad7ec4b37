import { Body, Controller, Get, Headers, Patch, Query, Req, Res } from '@nestjs/common';
import {
  ApiConsumes,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { Roles } from '../access/decorators.js';
import { ApiError } from '../http/api-error.js';
import { MERGE_PATCH_TYPE } from '../http/body-parsing.js';
import { ErrorCode } from '../http/error-codes.js';
import { ApiAccess } from '../openapi/access.js';
import { ApiErrors } from '../openapi/error-responses.js';
import {
  PatchSettingsDto,
  SettingsHistoryEntryResponse,
  SettingsHistoryQueryDto,
  SettingsResponse,
} from './settings.dto.js';
import { parseIfMatch } from './if-match.js';
import type { SettingsSnapshot } from './settings.events.js';
import { SettingsRepository, type SettingsHistoryEntry } from './settings.repository.js';
import { SettingsService } from './settings.service.js';

const ETAG_HEADER = {
  headers: {
    ETag: {
      description: 'The version, quoted: `"N"` (a strong entity tag).',
      required: true,
      schema: { type: 'string', pattern: '^"\\d+"$', example: '"3"' },
    },
  },
};

/** The settings resource; its PATCH also takes `application/merge-patch+json`. */
export const SETTINGS_PATH = '/api/settings';

@ApiTags('settings')
@Controller(SETTINGS_PATH)
@Roles('admin')
export class SettingsController {
  constructor(
    private readonly settings: SettingsService,
    private readonly repository: SettingsRepository,
  ) {}

  @Get()
  @ApiOperation({ summary: 'The runtime settings in force' })
  @ApiHeader({
    name: 'If-None-Match',
    required: false,
    description:
      'The ETag of the settings you hold: while they are still that version the answer is `304` with no body.',
  })
  @ApiOkResponse({ type: SettingsResponse, ...ETAG_HEADER })
  // Express answers a GET whose If-None-Match names the ETag with 304 (res.send sees it fresh).
  @ApiResponse({
    status: 304,
    description: 'Not modified: still the version you hold.',
    ...ETAG_HEADER,
  })
  @ApiAccess('admin')
  get(@Res({ passthrough: true }) res: Response) {
    return this.answer(this.settings.current, res);
  }

  @Patch()
  @ApiOperation({
    summary: 'Change runtime settings',
    description:
      'A JSON merge patch of the values, applied only if the settings are still the version you read. A change of backend is checked first (preflight), then the sessions move, and only then is the change stored: if any step fails, nothing changes.',
  })
  @ApiHeader({
    name: 'If-Match',
    required: true,
    description:
      'The ETag of the settings you read (`GET /api/settings`), e.g. `"3"`; or a list of ETags (any may match), or `*` (whatever version is current). Weak tags (`W/"3"`) never match.',
  })
  @ApiConsumes('application/json', MERGE_PATCH_TYPE)
  @ApiOkResponse({ type: SettingsResponse, description: 'The new version.', ...ETAG_HEADER })
  @ApiAccess('admin', { jsonBody: true })
  @ApiErrors(
    ErrorCode.PreconditionRequired,
    ErrorCode.VersionConflict,
    ErrorCode.BackendUnavailable,
    ErrorCode.BackendNotShared,
    ErrorCode.SwapFailed,
  )
  async patch(
    @Headers('if-match') ifMatch: string | undefined,
    @Body() _body: PatchSettingsDto,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ) {
    if (ifMatch === undefined || ifMatch.trim() === '') {
      throw new ApiError(
        428,
        ErrorCode.PreconditionRequired,
        'Send If-Match with the ETag of the settings you read (GET /api/settings), e.g. If-Match: "3"',
      );
    }
    const condition = parseIfMatch(ifMatch);
    if (!condition) {
      throw new ApiError(
        412,
        ErrorCode.VersionConflict,
        'If-Match must be the ETag of the settings you read, e.g. "3" (or *, or a list of ETags)',
      );
    }
    // The DTO has checked the envelope; the patch itself goes to the service as the client sent
    // it, because class-transformer silently drops keys such as `constructor` that the
    // settings schema must see to reject.
    const patch = (req.body as { values: unknown }).values;
    const next = await this.settings.update(patch, condition, req.signedInUser?.username ?? null);
    return this.answer(next, res);
  }

  @Get('history')
  @ApiOperation({ summary: 'Settings changes, newest first' })
  @ApiOkResponse({ type: [SettingsHistoryEntryResponse] })
  @ApiAccess('admin')
  @ApiErrors(ErrorCode.ValidationFailed)
  history(@Query() query: SettingsHistoryQueryDto): Promise<SettingsHistoryEntry[]> {
    return this.repository.history(query.limit ?? 100);
  }

  private answer(snapshot: SettingsSnapshot, res: Response) {
    res.setHeader('ETag', `"${snapshot.version}"`);
    return { version: snapshot.version, values: snapshot.values, sources: snapshot.sources };
  }
}
