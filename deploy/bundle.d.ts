// Types for the tests that import deploy/bundle.js (test/deploy/bundle-source.spec.ts).
export function escapeNonAscii(source: string): string;
export function bundleServer(
  entry: string,
  outfile: string,
): Promise<{ modules: number; bytes: number }>;
export const ESBUILD_NAME_HELPER: string;
export const CHEAP_NAME_HELPER: string;
export function cheapenNameHelper(source: string): string;
