/** What the setup page shows: the form while setup is required, a plain notice after. */
export interface SetupPageView {
  siteName: string;
  complete: boolean;
}

/**
 * The operator's setup page. Static HTML: the only dynamic text is the site name (escaped).
 * No inline script or style (the CSP allows only same-origin files): behaviour is in
 * `/setup/setup.js`, looks in `/setup/setup.css`. Each field names its hint and its error
 * element in `aria-describedby`; the script fills the errors from the API's `fields` array
 * (matched by `data-field`) and reports progress in the `role="status"` region.
 */
export function renderSetupPage(view: SetupPageView): string {
  const site = escapeHtml(view.siteName);
  return view.complete ? completePage(site) : formPage(site);
}

function completePage(site: string): string {
  return page(
    `${site}: setup complete`,
    `
    <h1>${site}</h1>
    <p class="notice">Setup is complete: an administrator account exists.</p>
    <p>Sign in through your application. This page cannot set ${site} up again.</p>`,
    false,
  );
}

function formPage(site: string): string {
  return page(
    `Set up ${site}`,
    `
    <h1>Set up ${site}</h1>
    <p id="intro">Create the first administrator account. This can be done once.</p>
    <p id="status" class="status" role="status" aria-live="polite"></p>
    <form id="setup-form" novalidate>
      <div class="field">
        <label for="token">Setup token</label>
        <p id="token-hint" class="hint">Filled in when you open the link from the server log; otherwise copy it from the file <code>setup-token</code> in the data directory.</p>
        <input id="token" name="token" type="text" data-field="token" autocomplete="off" spellcheck="false" autocapitalize="off" required aria-describedby="token-hint token-error">
        <p id="token-error" class="error"></p>
      </div>
      <fieldset>
        <legend>Administrator account</legend>
        <div class="field">
          <label for="username">Username</label>
          <p id="username-hint" class="hint">3 to 64 letters, digits, or <code>_ . @ -</code></p>
          <input id="username" name="username" type="text" data-field="admin.username" autocomplete="username" autocapitalize="off" spellcheck="false" required aria-describedby="username-hint username-error">
          <p id="username-error" class="error"></p>
        </div>
        <div class="field">
          <label for="password">Password</label>
          <p id="password-hint" class="hint">12 to 256 characters</p>
          <input id="password" name="password" type="password" data-field="admin.password" autocomplete="new-password" required aria-describedby="password-hint password-error">
          <p id="password-error" class="error"></p>
        </div>
        <div class="field">
          <label for="email">Email <span class="optional">(optional)</span></label>
          <p id="email-hint" class="hint">For your records; Keel sends no mail.</p>
          <input id="email" name="email" type="email" data-field="admin.email" autocomplete="email" aria-describedby="email-hint email-error">
          <p id="email-error" class="error"></p>
        </div>
      </fieldset>
      <fieldset>
        <legend>Sessions</legend>
        <div class="field">
          <label for="backend">Session cache</label>
          <p id="backend-hint" class="hint">Where sign-in sessions are kept. Memory suits one server; with several, choose database or Redis. Admins can change this later.</p>
          <select id="backend" name="backend" data-field="settings.sessionCache.backend" aria-describedby="backend-hint backend-error">
            <option value="memory" selected>Memory (this process)</option>
            <option value="database">Database</option>
            <option value="redis">Redis</option>
          </select>
          <p id="backend-error" class="error"></p>
        </div>
      </fieldset>
      <button type="submit">Complete setup</button>
    </form>
    <section id="done" class="notice" tabindex="-1" hidden>
      <h2 id="done-title">Setup is complete</h2>
      <p id="done-message"></p>
    </section>
    <noscript><p class="error">This page needs JavaScript. Without it, complete setup with <code>POST /api/setup</code>.</p></noscript>`,
    true,
  );
}

function page(title: string, body: string, withScript: boolean): string {
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>${title}</title>
    <link rel="icon" href="data:,">
    <link rel="stylesheet" href="/setup/setup.css">${
      withScript ? '\n    <script src="/setup/setup.js" defer></script>' : ''
    }
  </head>
  <body>
    <main>${body}
    </main>
  </body>
</html>
`;
}

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => HTML_ESCAPES[char]);
}
