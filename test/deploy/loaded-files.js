// Preloaded (`node --import`) into the bundle by bundle.e2e.spec.ts: when the process exits,
// writes every file node's CommonJS loader has loaded to $KEEL_TEST_LOADED_FILES. What the bundle
// requires at run time (its externals, and whatever a package loads through createRequire) goes
// through that loader and its one cache; the bundle's own modules do not.
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const { cache } = createRequire(import.meta.url);

process.on('exit', () => {
  writeFileSync(process.env.KEEL_TEST_LOADED_FILES, JSON.stringify(Object.keys(cache)));
});
