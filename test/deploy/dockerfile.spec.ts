import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseYamlDocuments } from './yaml-documents.js';

// No container engine runs where these tests run, so the image is checked by its recipe: the
// properties operators and Kubernetes rely on (multi-stage, non-root, node as PID 1 with the
// signals reaching it, no HEALTHCHECK competing with the probes), and that it agrees with
// deploy/kubernetes and with what the app needs at run time.

const ROOT = join(import.meta.dirname, '..', '..');

interface Instruction {
  keyword: string;
  args: string;
}

/** Dockerfile instructions, with line continuations joined and comments dropped. */
function parseDockerfile(text: string): Instruction[] {
  const logical: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!pending && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1).trim()} `;
      continue;
    }
    logical.push(`${pending}${line}`.trim());
    pending = '';
  }
  return logical
    .filter((line) => line !== '')
    .map((line) => {
      const [keyword, ...rest] = line.split(/\s+/);
      return { keyword: keyword!.toUpperCase(), args: rest.join(' ') };
    });
}

const instructions = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
const stages: Instruction[][] = [];
for (const instruction of instructions) {
  if (instruction.keyword === 'FROM') stages.push([]);
  stages.at(-1)?.push(instruction);
}
const runtime = stages.at(-1)!;
const stageName = (stage: Instruction[]) => /\bAS\s+(\S+)$/i.exec(stage[0]!.args)?.[1];

describe('Dockerfile', () => {
  it('is multi-stage: builds with dev dependencies, runs with production ones only', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const runs = (stage: Instruction[]) =>
      stage.filter((entry) => entry.keyword === 'RUN').map((entry) => entry.args);
    // The build stage installs everything and builds dist/.
    const build = stages.find((stage) => runs(stage).some((cmd) => /npm run build/.test(cmd)))!;
    expect(runs(build).some((cmd) => /npm ci(?!.*--omit=dev)/.test(cmd))).toBe(true);
    // Production node_modules come from `npm ci --omit=dev`.
    expect(
      stages.some((stage) => runs(stage).some((cmd) => /npm ci\b.*--omit=dev/.test(cmd))),
    ).toBe(true);
    // better-sqlite3 compiles at install: wherever npm ci runs, the toolchain is there.
    for (const stage of stages.filter((s) => runs(s).some((cmd) => /npm ci\b/.test(cmd)))) {
      expect([stageName(stage), runs(stage).join(' ')]).toEqual([
        stageName(stage),
        expect.stringMatching(/python3.*make.*g\+\+/),
      ]);
    }
    // The runtime stage compiles nothing and installs nothing: it copies.
    expect(runs(runtime).join(' ')).not.toMatch(/npm (ci|install)|g\+\+/);
    const copies = runtime.filter((entry) => entry.keyword === 'COPY').map((entry) => entry.args);
    expect(copies).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/--from=\S+.*\/app\/dist \.\/dist$/),
        expect.stringMatching(/--from=\S+.*\/app\/node_modules \.\/node_modules$/),
        // "type": "module": without package.json, node would not load dist/ as ES modules.
        expect.stringMatching(/package\.json \.\/$/),
      ]),
    );
  });

  it('runs as a non-root user, the uid the Kubernetes Deployment expects', () => {
    const users = runtime.filter((entry) => entry.keyword === 'USER');
    expect(users).toHaveLength(1);
    const [user, group] = users[0]!.args.split(':');
    expect(user).not.toMatch(/^(root|0)$/);
    expect(group).not.toMatch(/^(root|0)$/);
    const [deployment] = parseYamlDocuments(
      readFileSync(join(ROOT, 'deploy', 'kubernetes', 'deployment.yaml'), 'utf8'),
    ) as { spec: { template: { spec: { securityContext: Record<string, number> } } } }[];
    const context = deployment!.spec.template.spec.securityContext;
    expect([Number(user), Number(group)]).toEqual([context.runAsUser, context.runAsGroup]);
    // USER comes before CMD, so nothing after it runs as root.
    const keywords = runtime.map((entry) => entry.keyword);
    expect(keywords.indexOf('USER')).toBeLessThan(keywords.indexOf('CMD'));
  });

  it('makes DATA_DIR 0700, owned by that user (Keel warns at start about one others can reach)', () => {
    const dataDir = /DATA_DIR=(\S+)/.exec(
      runtime.find((entry) => entry.keyword === 'ENV')?.args ?? '',
    )?.[1];
    const runs = runtime
      .filter((entry) => entry.keyword === 'RUN')
      .map((entry) => entry.args)
      .join(' ');
    expect(runs).toContain(`mkdir -p -m 700 ${dataDir}`);
    expect(runs).toMatch(new RegExp(`chown keel:keel ${dataDir}\\b`));
  });

  it('starts the bundle as PID 1, as `npm start` does (exec form: no shell, no npm to swallow SIGTERM)', () => {
    const cmds = runtime.filter((entry) => entry.keyword === 'CMD');
    expect(cmds).toHaveLength(1);
    expect(JSON.parse(cmds[0]!.args)).toEqual(['node', 'dist/bundle/main.js']);
    const packageJson = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    expect(packageJson.scripts.start).toBe('node dist/bundle/main.js');
    expect(runtime.some((entry) => entry.keyword === 'ENTRYPOINT')).toBe(false);
    expect(runtime.find((entry) => entry.keyword === 'ENV')?.args ?? '').toMatch(
      /NODE_ENV=production/,
    );
  });

  it('builds and runs on Node 24, the active LTS line, one of the lines package.json supports', () => {
    const image = /^NODE_IMAGE=(\S+)$/.exec(
      instructions.find((entry) => entry.keyword === 'ARG' && entry.args.startsWith('NODE_IMAGE='))
        ?.args ?? '',
    )?.[1];
    expect(image).toBe('node:24-bookworm-slim');
    // Every stage is that image: the addon compiled in one stage runs in the other.
    expect(stages.map((stage) => stage[0]!.args.split(/\s+/)[0])).toEqual(
      stages.map(() => '${NODE_IMAGE}'),
    );
    const packageJson = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      engines: { node: string };
    };
    expect(packageJson.engines.node.split('||').map((range) => range.trim())).toContain('^24');
  });

  it('has no HEALTHCHECK: Kubernetes probes the health routes itself', () => {
    const checks = instructions.filter((entry) => entry.keyword === 'HEALTHCHECK');
    expect(checks.map((entry) => entry.args)).toEqual(['NONE']);
  });

  it('exposes the port the ConfigMap sets, and keeps secrets and build output out of the context', () => {
    const [configMap] = parseYamlDocuments(
      readFileSync(join(ROOT, 'deploy', 'kubernetes', 'configmap.yaml'), 'utf8'),
    ) as { data: Record<string, string> }[];
    const exposed = runtime.find((entry) => entry.keyword === 'EXPOSE')!.args;
    expect(exposed).toBe(configMap!.data.PORT);
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#'));
    expect(ignored).toEqual(
      expect.arrayContaining(['node_modules', 'dist', 'data', '.env', '.git']),
    );
  });

  it('sends the build every file it copies from the context (none is left out by .dockerignore)', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#'));
    // .dockerignore's rule: the last pattern that matches a path decides; `!` takes it back.
    const isIgnored = (path: string) => {
      let result = false;
      for (const pattern of ignored) {
        const negated = pattern.startsWith('!');
        const body = negated ? pattern.slice(1) : pattern;
        if (path === body || path.startsWith(`${body}/`)) result = !negated;
      }
      return result;
    };
    const sources = instructions
      .filter((entry) => entry.keyword === 'COPY' && !entry.args.includes('--from='))
      .flatMap((entry) => {
        const words = entry.args.split(/\s+/).filter((word) => !word.startsWith('--'));
        return words.slice(0, -1).map((source) => source.replace(/^\.\/|\/$/g, ''));
      });
    // The bundler is the one file of deploy/ the build reads.
    expect(sources).toEqual(expect.arrayContaining(['src', 'web', 'deploy/bundle.js']));
    expect(sources.filter(isIgnored)).toEqual([]);
  });
});
