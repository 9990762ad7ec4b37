/** One of Keel's web pages: its title, the built entry it loads, and what shows before it runs. */
export interface WebPageView {
  title: string;
  /** The bundle's name in dist/web (web/build.mjs): `setup` loads /assets/setup.{js,css}. */
  entry: string;
  /** False for a page that needs no behaviour: its styles only. */
  script?: boolean;
  /** Trusted HTML: what the page shows before (or without) its script. Escape what you put in. */
  body: string;
}

/**
 * The HTML around every page: no inline script or style (the CSP allows same-origin files
 * only), the script deferred, so it runs once the body it fills is there.
 */
export function renderWebPage(view: WebPageView): string {
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>${view.title}</title>
    <link rel="icon" href="data:,">
    <link rel="stylesheet" href="/assets/${view.entry}.css">
${view.script === false ? '' : `    <script type="module" src="/assets/${view.entry}.js"></script>\n`}  </head>
  <body>
    <main id="app">${view.body}
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
