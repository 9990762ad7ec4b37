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

export default {
  rootDir: '.',
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': swc },
  testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/test/**/*.spec.ts'],
  globalSetup: '<rootDir>/test/support/global-setup.js',
  testTimeout: 60000,
  // Each worker boots whole apps against real services; two cores are all we have.
  maxWorkers: 2,
};
