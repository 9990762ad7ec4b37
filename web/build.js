// Builds the browser code (web/) into dist/web: one bundle per page, each with its CSS. Run by
// `npm run build` after `nest build` (which empties dist/). esbuild only strips the types:
// `npm run typecheck` checks them (web/tsconfig.json).
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const root = join(import.meta.dirname, '..');
const outdir = join(root, 'dist', 'web');
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
});
const sizes = Object.keys(result.metafile.outputs).map((file) => {
  const gzipped = gzipSync(readFileSync(join(root, file)), { level: 9 }).length;
  return `${file.replace(/^dist\/web\//, '')} ${(gzipped / 1024).toFixed(1)} kB`;
});
process.stdout.write(`web: ${sizes.join(', ')} (gzipped)\n`);
