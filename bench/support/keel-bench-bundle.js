// Benchmarks measure Keel as production runs it: bundled into one file (deploy/bundle.js,
// what `npm start` and the Docker image run). This bundles keel-bench-server.js the same way,
// next to the production bundle (the same depth under dist/, so Keel's paths resolve alike).
// `--unbundled` in a benchmark runs keel-bench-server.js itself, tsc's files under dist/,
// for a comparison or a profile split by package.
import { join } from 'node:path';
import { bundleServer } from '../../deploy/bundle.js';

const root = join(import.meta.dirname, '..', '..');

/**
 * The environment every benchmark starts Keel with: production mode, a fixed session secret,
 * and no drain wait when a benchmark stops it. Each benchmark adds its own on top.
 */
export const KEEL_BENCH_ENV = Object.freeze({
  NODE_ENV: 'production',
  SESSION_SECRET: 'bench-secret-'.padEnd(48, 'x'),
  SHUTDOWN_DRAIN_MS: '0',
});

const unbundled = join(import.meta.dirname, 'keel-bench-server.js');

/** The path of the Keel bench server to start: bundled, unless `bundled` is false. */
export async function keelBenchServer(bundled = true) {
  if (!bundled) return unbundled;
  const outfile = join(root, 'dist', 'bundle', 'keel-bench-server.js');
  await bundleServer(unbundled, outfile);
  return outfile;
}
