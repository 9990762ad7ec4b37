import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

// The layout the docs describe is the layout of src/: the layers picture in
// docs/architecture.md is drawn from the rules file that `npm run lint:layers` enforces, its
// modules table lists every folder once, and no file grows past what a reader takes in at once.

const root = join(import.meta.dirname, '../..');
const rules = createRequire(import.meta.url)(join(root, '.dependency-cruiser.cjs')) as {
  layers: string[][];
  exceptions: { from: string; to: string; why: string }[];
};
const architecture = readFileSync(join(root, 'docs/architecture.md'), 'utf8');
const MAX_LINES = 400;

/** The Mermaid block docs/architecture.md shows, from the rules file's LAYERS. */
function layersDiagram(layers: string[][]): string {
  const nodes = layers.map((layer, index) => `  L${index}["${layer.join(' · ')}"]`);
  const chain = layers.map((_, index) => `L${index}`).join(' --> ');
  return ['flowchart TB', ...nodes, `  ${chain}`].join('\n');
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

describe('the structure of src/', () => {
  const folders = readdirSync(join(root, 'src'), { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name);
  const topFiles = readdirSync(join(root, 'src'))
    .filter((name) => name.endsWith('.ts'))
    .map((name) => name.replace(/\.ts$/, ''));

  it('gives every folder and top-level file exactly one layer', () => {
    const layered = rules.layers.flat();
    expect([...layered].sort()).toEqual([...folders, ...topFiles].sort());
    expect(new Set(layered).size).toBe(layered.length);
  });

  it('draws the layers in docs/architecture.md as the rules file has them', () => {
    const drawn =
      /<!-- layers:begin[^>]*-->\n```mermaid\n([\s\S]*?)\n```\n<!-- layers:end -->/.exec(
        architecture,
      )?.[1];
    // On a mismatch, the expected text is the block to paste.
    expect(drawn).toBe(layersDiagram(rules.layers));
  });

  it('lists every folder once in the modules table', () => {
    const table = architecture.slice(
      architecture.indexOf('## Modules and what they own'),
      architecture.indexOf('## Layers'),
    );
    const listed = [...table.matchAll(/^\| `src\/([a-z-]+)\/` \|/gm)].map((match) => match[1]);
    expect([...listed].sort()).toEqual([...folders].sort());
  });

  it('allows at most three imports that run up, each named in docs/architecture.md', () => {
    expect(rules.exceptions.length).toBeLessThanOrEqual(3);
    for (const exception of rules.exceptions) {
      expect(exception.why.length).toBeGreaterThan(0);
      expect(architecture).toContain(exception.from);
    }
    if (rules.exceptions.length === 0) {
      expect(architecture.replace(/\s+/g, ' ')).toContain('Allowed exceptions that run up: none.');
    }
  });

  it(`keeps every file of src/ within ${MAX_LINES} lines`, () => {
    const long = sourceFiles(join(root, 'src'))
      .map((path) => ({ path, lines: readFileSync(path, 'utf8').split('\n').length - 1 }))
      .filter((file) => file.lines > MAX_LINES);
    expect(long).toEqual([]);
  });
});
