// Builds Keel's production entry, dist/bundle/main.js: dist/main.js (tsc's output) and every
// package it imports, in one file. Run by `npm run build` after `nest build` and web/build.js;
// `npm start` and the Docker image run the bundle.
//
// Why: on one core, loading ~2,500 files one by one (resolution, package.json lookups, reading,
// the CommonJS lexer) was half of start-up (docs/performance.md, "Start-up"). One file ends that.
//
// What stays outside the bundle:
// - node-postgres and node-redis: Keel `require`s them only when it opens a PostgreSQL database
//   or makes a Redis client (src/database/drivers.ts, src/common/redis-library.ts), through
//   createRequire, which esbuild does not follow. Each is bundled into a file of its own next
//   to the bundle (RUN_TIME_PACKAGES), which the bundle loads instead of the package;
// - better-sqlite3, required from node_modules: a native addon that finds its .node file from
//   its own package folder;
// - pino-pretty, loaded only for a development terminal (src/logging/terminal-lines.ts);
// - Nest's optional peers, which it imports only when installed and which Keel does not use.
//
// The bundle sits one folder below dist/, as every compiled module does (dist/<feature>/x.js):
// the few paths Keel builds from `import.meta.url` (../../package.json, ../../dist/web/) resolve
// the same from it.
import { build } from 'esbuild';
import { readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(import.meta.dirname, '..');

/**
 * @nestjs/mapped-types and @nestjs/terminus load their optional peers with
 * `const require = createRequire(import.meta.url)`, which esbuild does not follow: at run time
 * that would load a second copy of class-validator, class-transformer or @nestjs/swagger from
 * node_modules, each with its own metadata store (mapped types would lose their parents' @Type
 * rules). Without that line, `require('x')` is esbuild's own and gets the bundled copy.
 * @nestjs/swagger's own createRequire stays: it needs swagger-ui-dist's real folder.
 */
const SHARED_PEERS_FROM = /[\\/]node_modules[\\/]@nestjs[\\/](mapped-types|terminus)[\\/].*\.js$/;
const bundlePeerRequires = {
  name: 'bundle-peer-requires',
  setup(esbuild) {
    esbuild.onLoad({ filter: SHARED_PEERS_FROM }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      const line = 'const require = createRequire(import.meta.url);';
      if (!source.includes(line)) return undefined;
      return { contents: source.replace(line, ''), loader: 'js' };
    });
  },
};

/** What the bundle and RUN_TIME_PACKAGES' files are built for, and how, alike. */
const FOR_NODE = Object.freeze({
  bundle: true,
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
});

/**
 * The packages Keel loads only in some configurations, each built into one CommonJS file beside
 * the bundle: from node_modules node-redis is 478 files to resolve, read and compile one by
 * one, 240-290 ms pinned to one core, 90-125 ms as one file; node-postgres 32 files, 80-90 ms,
 * 60 ms as one (docs/performance.md, "node-postgres and node-redis in one file each").
 * `loadedBy` matches the module that loads the package by the specifier its `constant` holds;
 * in the bundle that constant names the file.
 */
const RUN_TIME_PACKAGES = [
  {
    specifier: '@redis/client',
    file: 'node-redis.cjs',
    loadedBy: /[\\/]dist[\\/]common[\\/]redis-library\.js$/,
    constant: 'NODE_REDIS',
    external: [],
  },
  {
    specifier: 'pg',
    file: 'node-postgres.cjs',
    loadedBy: /[\\/]dist[\\/]database[\\/]drivers\.js$/,
    constant: 'NODE_POSTGRES',
    // pg's optional native binding, which Keel does not use: loaded only through `pg.native`.
    external: ['pg-native'],
  },
];

/** Points each loader's constant at its package's one-file build (see RUN_TIME_PACKAGES). */
const loadRunTimePackagesBeside = {
  name: 'load-run-time-packages-beside',
  setup(esbuild) {
    for (const { specifier, file, loadedBy, constant } of RUN_TIME_PACKAGES) {
      esbuild.onLoad({ filter: loadedBy }, async (args) => {
        const source = await readFile(args.path, 'utf8');
        const line = `const ${constant} = '${specifier}';`;
        // Fails the build rather than a production start that loads the package's files.
        if (!source.includes(line)) throw new Error(`${args.path}: no line "${line}"`);
        return { contents: source.replace(line, `const ${constant} = './${file}';`), loader: 'js' };
      });
    }
  },
};

/**
 * Builds RUN_TIME_PACKAGES into `folder`, each from the file `require` would load (an entry
 * point named by package would take its ES module entry, and resolve from the working folder).
 */
async function bundleRunTimePackages(folder) {
  const requireFromRoot = createRequire(join(root, 'package.json'));
  for (const { specifier, file, external } of RUN_TIME_PACKAGES) {
    const outfile = join(folder, file);
    await build({
      ...FOR_NODE,
      entryPoints: [requireFromRoot.resolve(specifier)],
      outfile,
      format: 'cjs',
      external,
    });
    await writeFile(outfile, escapeNonAscii(await readFile(outfile, 'utf8')));
  }
}

/**
 * V8 keeps a module's source text for its whole life (lazy compilation, `Function.toString`,
 * stack traces), one byte per character while every character is Latin-1, two bytes for all of
 * it once one is not. esbuild escapes non-ASCII in strings but not in regular expressions
 * (validator's locale alphabets) or comments, so the 5.7 MB bundle was held as 11.4 MiB.
 * A `\uXXXX` escape means the same character in a regular expression (with or without the `u`
 * flag; outside the Basic Multilingual Plane as a surrogate pair), a string, a template or an
 * identifier, and it is inert in a comment. Source map columns after such a character on its
 * line shift; those lines are data (alphabets, comments), not code a stack trace points into.
 */
export function escapeNonAscii(source) {
  // After an odd run of backslashes the character was escaped itself (`\ä`, the same as `ä` in
  // a string or a regular expression without `u`): the \u escape takes that backslash's place.
  // Except a line terminator: a backslash before U+2028 or U+2029 in a string or a template is
  // a line continuation, which stands for nothing, so both go.
  return source.replace(/(\\*)([^\0-\x7f])/g, (_, slashes, unit) => {
    const escaped = slashes.length % 2 === 1;
    const kept = escaped ? slashes.slice(1) : slashes;
    if (escaped && (unit === '\u2028' || unit === '\u2029')) return kept;
    return `${kept}\\u${unit.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}

/**
 * esbuild's `keepNames` helper, as it emits it: called on every function and class whose name
 * esbuild might have changed, including each function declared inside another function, every
 * time the outer one runs. express-session declares a dozen inside its middleware, so each
 * request redefined a dozen `name` properties: the same bundle without keepNames served 14% more
 * `GET /api/auth/me` (docs/performance.md, "Evening (2026-12-01)").
 */
export const ESBUILD_NAME_HELPER =
  'var __name = (target, value) => __defProp(target, "name", { value, configurable: true });';
/**
 * The same helper, leaving alone a function or class that already has the name: most have,
 * since esbuild renames only on a clash. Either way the name ends up `value` with the same
 * attributes, for every target esbuild wraps: fresh functions and classes whose `name` is an own
 * data property. (A class with a computed `static get [k]()` named `name` would keep its getter;
 * esbuild wraps none in this bundle.)
 */
export const CHEAP_NAME_HELPER =
  'var __name = (target, value) => target.name === value ? target : __defProp(target, "name", { value, configurable: true });';

/** Puts CHEAP_NAME_HELPER in the place of esbuild's; fails if esbuild's is not there once. */
export function cheapenNameHelper(source) {
  const at = source.indexOf(ESBUILD_NAME_HELPER);
  if (at === -1 || source.indexOf(ESBUILD_NAME_HELPER, at + 1) !== -1) {
    throw new Error(
      "deploy/bundle.js: esbuild's keepNames helper is not in the bundle exactly once; has esbuild changed it?",
    );
  }
  return source.replace(ESBUILD_NAME_HELPER, CHEAP_NAME_HELPER);
}

/**
 * Bundles `entry` (a module under dist/ or one importing dist/) into `outfile`, which must sit
 * one folder below dist/ (see above). bench/ bundles its Keel server the same way, so that
 * benchmarks measure what production runs.
 */
export async function bundleServer(entry, outfile) {
  const result = await build({
    ...FOR_NODE,
    entryPoints: [entry],
    outfile,
    format: 'esm',
    // Nest names providers, loggers' contexts and error messages after classes: keep the names.
    keepNames: true,
    // Its source map is composed with tsc's maps: `node --enable-source-maps
    // dist/bundle/main.js` reports src/ lines.
    external: [
      'better-sqlite3',
      'pino-pretty',
      '@nestjs/microservices',
      '@nestjs/microservices/*',
      '@nestjs/websockets',
      '@nestjs/websockets/*',
      '@fastify/static',
      // mapped-types' fallback for class-transformer versions without cjs/storage: never taken.
      'class-transformer/storage',
    ],
    // The CommonJS packages inside call `require` (node's built-ins, each other's externals); an
    // ES module has none, so give the bundle one.
    banner: {
      js: "import { createRequire as keelCreateRequire } from 'node:module'; const require = keelCreateRequire(import.meta.url);",
    },
    plugins: [bundlePeerRequires, loadRunTimePackagesBeside],
    metafile: true,
  });
  await writeFile(outfile, cheapenNameHelper(escapeNonAscii(await readFile(outfile, 'utf8'))));
  await bundleRunTimePackages(dirname(outfile));
  const [, output] = Object.entries(result.metafile.outputs).find(([file]) => file.endsWith('.js'));
  return { modules: Object.keys(result.metafile.inputs).length, bytes: output.bytes };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { modules, bytes } = await bundleServer(
    join(root, 'dist', 'main.js'),
    join(root, 'dist', 'bundle', 'main.js'),
  );
  process.stdout.write(
    `bundle: dist/bundle/main.js, ${modules} modules, ${(bytes / 1024 / 1024).toFixed(1)} MB\n`,
  );
}
