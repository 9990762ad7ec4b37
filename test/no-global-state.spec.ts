import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

// Keel's state lives in injected providers. This guards the rule: code under src/ never
// reaches for process-wide state (main.ts, which bootstraps, is the one exception), and only
// src/config reads the environment.
const SRC = join(import.meta.dirname, '..', 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts') ? [path] : [];
  });
}

const FORBIDDEN: [RegExp, string][] = [
  [/\bapp\.locals\b/, 'app.locals'],
  [/\b(req|request)\.app\b/, 'req.app'],
  [/\bglobalThis\b/, 'globalThis'],
  [/^(export\s+)?(let|var)\s/m, 'a module-level let/var'],
];

function violations(file: string, text: string): string[] {
  const found: string[] = [];
  const name = relative(SRC, file);
  for (const [pattern, what] of FORBIDDEN) {
    if (pattern.test(text)) found.push(`${name}: ${what}`);
  }
  if (/\bprocess\.env\b/.test(text) && !name.startsWith('config/')) {
    found.push(`${name}: process.env outside src/config`);
  }
  return found;
}

describe('no global state', () => {
  const files = sourceFiles(SRC).filter((file) => relative(SRC, file) !== 'main.ts');

  it('scans the source tree', () => {
    expect(files.length).toBeGreaterThan(5);
  });

  it('finds no app.locals, req.app, globalThis, module-level let or stray process.env', () => {
    const found = files.flatMap((file) => violations(file, readFileSync(file, 'utf8')));
    expect(found).toEqual([]);
  });

  it('would catch each forbidden pattern', () => {
    const planted = [
      'const x = app.locals.settings;',
      'function f(req) { return req.app.get("x"); }',
      'globalThis.cache = new Map();',
      'let current = null;\nexport function get() { return current; }',
      'export let counter = 0;',
      'const port = process.env.PORT;',
    ];
    for (const text of planted) {
      expect(violations(join(SRC, 'feature', 'planted.ts'), text)).not.toEqual([]);
    }
  });
});
