import { Controller, Get, Header } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { Public } from '../access/decorators.js';
import { escapeHtml, renderWebPage } from '../http/web-page.js';
import { SettingsService } from '../settings/settings.service.js';

/**
 * The operator console's page. Public: without a session it shows the sign-in form, and a
 * member sees "admins only"; every piece of data comes from the admin-only API, so the page
 * itself holds nothing to protect. Not in the API document: it is for a browser.
 */
@ApiExcludeController()
@Controller('console')
@Public()
export class ConsolePageController {
  constructor(private readonly settings: SettingsService) {}

  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Cache-Control', 'no-store')
  page(): string {
    const site = escapeHtml(this.settings.current.values.siteName);
    return renderWebPage({
      title: `${site} console`,
      entry: 'console',
      body: `
      <h1 id="page-title" tabindex="-1">${site} console</h1>
      <div id="console"><noscript><p>The console needs JavaScript. Without it, use the API: <code>GET /api/runtime</code>.</p></noscript></div>`,
    });
  }
}
