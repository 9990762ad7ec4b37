import { escapeHtml, renderWebPage } from '../http/web-page.js';

/** What the setup page shows: the form while setup is required, a plain notice after. */
export interface SetupPageView {
  siteName: string;
  complete: boolean;
}

/**
 * The operator's setup page. While setup is required, the form is web/setup's (the browser
 * code every Keel page shares); the server writes only the heading, with the site name
 * escaped. Afterwards a static notice with no script and no form: nothing on it can redo setup.
 */
export function renderSetupPage(view: SetupPageView): string {
  const site = escapeHtml(view.siteName);
  return view.complete ? completePage(site) : formPage(site);
}

function completePage(site: string): string {
  return renderWebPage({
    title: `${site}: setup complete`,
    entry: 'setup',
    script: false,
    body: `
      <h1>${site}</h1>
      <p class="notice">Setup is complete: an administrator account exists.</p>
      <p>Administrators sign in on the <a href="/console">operator console</a>. This page cannot set ${site} up again.</p>`,
  });
}

function formPage(site: string): string {
  return renderWebPage({
    title: `Set up ${site}`,
    entry: 'setup',
    body: `
      <h1>Set up ${site}</h1>
      <div id="setup"><noscript><p class="error">This page needs JavaScript. Without it, complete setup with <code>POST /api/setup</code>.</p></noscript></div>`,
  });
}
