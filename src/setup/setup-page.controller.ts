import { Controller, Get, Header } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { Public } from '../access/decorators.js';
import { SettingsService } from '../settings/settings.service.js';
import { renderSetupPage } from './setup-page.html.js';
import { SETUP_PAGE_SCRIPT } from './setup-page.script.js';
import { SETUP_PAGE_STYLES } from './setup-page.styles.js';
import { SetupService } from './setup.service.js';

/**
 * The operator's setup page and its two assets. Outside `/api`, so never gated; served by Keel
 * itself, with no front-end build. The page says whether setup is still required, so it is
 * never cached. Not in the API document: pages and their assets are for a browser, not for a
 * generated client.
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

  @Get('setup.js')
  @Header('Content-Type', 'text/javascript; charset=utf-8')
  @Header('Cache-Control', 'no-cache')
  script(): string {
    return SETUP_PAGE_SCRIPT;
  }

  @Get('setup.css')
  @Header('Content-Type', 'text/css; charset=utf-8')
  @Header('Cache-Control', 'no-cache')
  styles(): string {
    return SETUP_PAGE_STYLES;
  }
}
