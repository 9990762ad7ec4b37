// prom-client's default collectors, one module each. It publishes no types for them, and
// `collectDefaultMetrics` offers no way to skip the two that cannot be stopped (see
// process-metrics.ts), so Keel registers the others itself through these modules.
declare module 'prom-client/lib/metrics/*.js' {
  import type { Registry } from 'prom-client';

  const register: (registry: Registry, config?: Record<string, unknown>) => void;
  export default register;
}
