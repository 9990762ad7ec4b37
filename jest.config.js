// Jest runs as ESM (NODE_OPTIONS=--experimental-vm-modules): Nest 12 is ESM-only.
// Types are checked by `tsc --noEmit` in `npm test`, not by the transformer.
const swc = [
  '@swc/jest',
  {
    jsc: {
      target: 'es2023',
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
    },
    module: { type: 'es6' },
  },
];

const common = {
  rootDir: '.',
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': swc },
};

// Three kinds of suite, told apart by their file name (docs/development.md, "Tests"):
//   unit         *.spec.ts      in-process, on fakes (test/factories): no database, no Redis
//   integration  *.int.spec.ts  one part against real PostgreSQL, Redis or SQLite files
//   e2e          *.e2e.spec.ts  whole apps (or built processes) over HTTP
export default {
  testTimeout: 60000,
  // Each worker boots whole apps against real services; two cores are all we have.
  maxWorkers: 2,
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/{src,test}/**/*.spec.ts'],
      testPathIgnorePatterns: ['\\.(int|e2e)\\.spec\\.ts$'],
      setupFiles: ['<rootDir>/test/support/quiet-nest-logs.ts'],
    },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/{src,test}/**/*.int.spec.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.js',
    },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/{src,test}/**/*.e2e.spec.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.js',
    },
  ],
};
