import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import {
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import { Roles } from '../access/decorators.js';
import { ErrorCode } from '../http/error-codes.js';
import { validationFailed } from '../http/validation.js';
import { ApiAccess } from '../openapi/access.js';
import { ApiErrors } from '../openapi/error-responses.js';
import { type PublicUser, toPublicUser } from './user.js';
import {
  CreateUserDto,
  PublicUserResponse,
  UPDATE_USER_FIELDS,
  UpdateUserDto,
} from './users.dto.js';
import { UsersService } from './users.service.js';

const USER_ID = { name: 'id', description: 'The user’s id (a UUID).' };

/** Admin user management (docs/api.md, "Routes"). Users are always shown as `PublicUser`. */
@ApiTags('users')
@Controller('api/users')
@Roles('admin')
export class UsersController {
  constructor(private readonly users: UsersService) {}

  @Get()
  @ApiOperation({ summary: 'List users' })
  @ApiOkResponse({ type: [PublicUserResponse] })
  @ApiAccess('admin')
  async list(): Promise<PublicUser[]> {
    return (await this.users.list()).map(toPublicUser);
  }

  @Post()
  @ApiOperation({ summary: 'Create a user' })
  @ApiCreatedResponse({ type: PublicUserResponse })
  @ApiAccess('admin', { jsonBody: true })
  @ApiErrors(ErrorCode.UsernameTaken)
  async create(@Body() body: CreateUserDto): Promise<PublicUser> {
    return toPublicUser(await this.users.create(body));
  }

  @Patch(':id')
  @ApiOperation({
    summary: 'Change a user',
    description:
      'Give at least one field. Disabling, demoting or a new password ends the user’s sessions; the last enabled admin cannot be disabled or demoted.',
  })
  @ApiParam(USER_ID)
  @ApiOkResponse({ type: PublicUserResponse })
  @ApiAccess('admin', { jsonBody: true })
  @ApiErrors(ErrorCode.NotFound, ErrorCode.LastAdmin)
  async update(@Param('id') id: string, @Body() body: UpdateUserDto): Promise<PublicUser> {
    if (UPDATE_USER_FIELDS.every((field) => body[field] === undefined)) {
      const message = `give at least one of ${UPDATE_USER_FIELDS.join(', ')}`;
      throw validationFailed(UPDATE_USER_FIELDS.map((field) => ({ field, message })));
    }
    return toPublicUser(await this.users.update(id, body));
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Delete a user',
    description: 'Their sessions end. The last enabled admin cannot be deleted.',
  })
  @ApiParam(USER_ID)
  @ApiNoContentResponse({ description: 'Deleted.' })
  @ApiAccess('admin', { unsafe: true })
  @ApiErrors(ErrorCode.NotFound, ErrorCode.LastAdmin)
  async delete(@Param('id') id: string): Promise<void> {
    await this.users.delete(id);
  }
}
