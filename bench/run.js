// `npm run bench`: every benchmark, one after another (never part of `npm test`). Each prints
// a Markdown table with ratios against a plain Express baseline measured in the same run, and a
// `JSON {...}` line; this runner also saves the output under bench/results/.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const here = import.meta.dirname;
const BENCHMARKS = ['me.js', 'swap.js', 'ops.js', 'profile.js'];
const outDir = join(here, 'results');
mkdirSync(outDir, { recursive: true });
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
let failed = false;
for (const name of BENCHMARKS) {
  process.stdout.write(`\n## ${name}\n\n`);
  const run = spawnSync(process.execPath, [join(here, name), ...process.argv.slice(2)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  process.stdout.write(run.stdout);
  writeFileSync(join(outDir, `${stamp}-${name.replace('.js', '')}.txt`), run.stdout);
  const json = run.stdout.split('\n').find((line) => line.startsWith('JSON '));
  if (json) writeFileSync(join(outDir, `${stamp}-${name.replace('.js', '')}.json`), json.slice(5));
  failed ||= run.status !== 0;
}
process.exit(failed ? 1 : 0);
