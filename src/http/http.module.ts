import { Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { HttpExceptionFilter } from './http-exception.filter.js';
import { NoUnexpectedBodyGuard } from './no-unexpected-body.guard.js';
import { createValidationPipe } from './validation.js';
import { WebAssets, WebAssetsController } from './web-assets.js';

/**
 * The global pieces of the HTTP edge that Nest wires by DI: the error filter, the pipe, the
 * no-body guard; and the built browser code every page loads (`/assets`).
 */
@Module({
  controllers: [WebAssetsController],
  providers: [
    WebAssets,
    { provide: APP_FILTER, useClass: HttpExceptionFilter },
    { provide: APP_PIPE, useFactory: createValidationPipe },
    { provide: APP_GUARD, useClass: NoUnexpectedBodyGuard },
  ],
})
export class HttpModule {}
