// Types for the tests that import deploy/bundle.js (test/deploy/bundle-source.spec.ts).
export function escapeNonAscii(source: string): string;
export function bundleServer(
  entry: string,
  outfile: string,
): Promise<{ modules: number; bytes: number }>;
