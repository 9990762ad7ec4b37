// Builds the browser code (web/) into dist/web: one bundle per page, each with its CSS. Run by
// `npm run build` after `nest build` (which empties dist/). esbuild only strips the types:
// `npm run typecheck` checks them (web/tsconfig.json).
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const root = join(import.meta.dirname, '..');
const outdir = join(root, 'dist', 'web');

/**
 * `RuntimeSettings` and the schemas it refers to, from the OpenAPI document the server just
 * built serves (dist/tools/openapi-document.js: the same generation, from the classes that
 * validate a change). The console's settings form is generated from it, bundled in as the module
 * `keel:settings-schema`, so the browser never downloads the whole document (~125 kB) for it.
 */
function settingsSchema() {
  const document = JSON.parse(
    execFileSync(process.execPath, [join(root, 'dist/tools/openapi-document.js')], {
      encoding: 'utf8',
      maxBuffer: 16 * 1024 * 1024,
    }),
  );
  const all = document.components.schemas;
  const schemas = {};
  const collect = (name) => {
    if (schemas[name]) return;
    if (!all[name]) throw new Error(`web/build.js: no schema ${name} in the OpenAPI document`);
    schemas[name] = all[name];
    const refs = JSON.stringify(all[name]).matchAll(/"#\/components\/schemas\/([^"]+)"/g);
    for (const [, ref] of refs) collect(ref);
  };
  collect('RuntimeSettings');
  return { root: 'RuntimeSettings', schemas };
}

const settingsSchemaModule = {
  name: 'keel-settings-schema',
  setup(esbuild) {
    esbuild.onResolve({ filter: /^keel:settings-schema$/ }, (args) => ({
      path: args.path,
      namespace: 'keel',
    }));
    esbuild.onLoad({ filter: /.*/, namespace: 'keel' }, () => ({
      contents: JSON.stringify(settingsSchema()),
      loader: 'json',
    }));
  },
};

const result = await build({
  entryPoints: {
    setup: join(root, 'web/setup/main.tsx'),
    console: join(root, 'web/console/main.tsx'),
  },
  outdir,
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2022', 'chrome111', 'firefox115', 'safari16'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
  plugins: [settingsSchemaModule],
});
const sizes = Object.keys(result.metafile.outputs).map((file) => {
  const gzipped = gzipSync(readFileSync(join(root, file)), { level: 9 }).length;
  return `${file.replace(/^dist\/web\//, '')} ${(gzipped / 1024).toFixed(1)} kB`;
});
process.stdout.write(`web: ${sizes.join(', ')} (gzipped)\n`);
