import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import { Roles } from '../auth/decorators.js';
import { validationFailed } from '../http/validation.js';
import { type PublicUser, toPublicUser } from './user.js';
import { CreateUserDto, UPDATE_USER_FIELDS, UpdateUserDto } from './users.dto.js';
import { UsersService } from './users.service.js';

/** Admin user management (../shared/API.md, "Users"). Users are always shown as `PublicUser`. */
@Controller('api/users')
@Roles('admin')
export class UsersController {
  constructor(private readonly users: UsersService) {}

  @Get()
  async list(): Promise<PublicUser[]> {
    return (await this.users.list()).map(toPublicUser);
  }

  @Post()
  async create(@Body() body: CreateUserDto): Promise<PublicUser> {
    return toPublicUser(await this.users.create(body));
  }

  @Patch(':id')
  async update(@Param('id') id: string, @Body() body: UpdateUserDto): Promise<PublicUser> {
    if (UPDATE_USER_FIELDS.every((field) => body[field] === undefined)) {
      const message = `give at least one of ${UPDATE_USER_FIELDS.join(', ')}`;
      throw validationFailed(UPDATE_USER_FIELDS.map((field) => ({ field, message })));
    }
    return toPublicUser(await this.users.update(id, body));
  }

  @Delete(':id')
  @HttpCode(204)
  async delete(@Param('id') id: string): Promise<void> {
    await this.users.delete(id);
  }
}
