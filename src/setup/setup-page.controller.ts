import { Controller, Get, Header } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { Public } from '../access/decorators.js';
import { SettingsService } from '../settings/settings.service.js';
import { renderSetupPage } from './setup-page.html.js';
import { SetupService } from './setup.service.js';

/**
 * The operator's setup page. Outside `/api`, so never gated; its browser code is web/setup,
 * served from `/assets` like every page's. The page says whether setup is still required, so it
 * is never cached. Not in the API document: pages are for a browser, not a generated client.
 */
@ApiExcludeController()
@Controller('setup')
@Public()
export class SetupPageController {
  constructor(
    private readonly settings: SettingsService,
    private readonly setup: SetupService,
  ) {}

  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Cache-Control', 'no-store')
  async page(): Promise<string> {
    return renderSetupPage({
      siteName: this.settings.current.values.siteName,
      complete: await this.setup.isComplete(),
    });
  }
}
