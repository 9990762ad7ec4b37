import { monitorEventLoopDelay, PerformanceObserver, constants } from 'node:perf_hooks';
import { Gauge, Histogram, type Registry } from 'prom-client';
import heapSizeAndUsed from 'prom-client/lib/metrics/heapSizeAndUsed.js';
import heapSpacesSizeAndUsed from 'prom-client/lib/metrics/heapSpacesSizeAndUsed.js';
import osMemoryHeap from 'prom-client/lib/metrics/osMemoryHeap.js';
import processCpuTotal from 'prom-client/lib/metrics/processCpuTotal.js';
import processHandles from 'prom-client/lib/metrics/processHandles.js';
import processMaxFileDescriptors from 'prom-client/lib/metrics/processMaxFileDescriptors.js';
import processOpenFileDescriptors from 'prom-client/lib/metrics/processOpenFileDescriptors.js';
import processRequests from 'prom-client/lib/metrics/processRequests.js';
import processResources from 'prom-client/lib/metrics/processResources.js';
import processStartTime from 'prom-client/lib/metrics/processStartTime.js';
import version from 'prom-client/lib/metrics/version.js';

/** prom-client's collectors that only read process state when scraped: nothing to stop. */
const SCRAPE_TIME_COLLECTORS = [
  processCpuTotal,
  processStartTime,
  osMemoryHeap,
  processOpenFileDescriptors,
  processMaxFileDescriptors,
  processResources,
  processHandles,
  processRequests,
  heapSizeAndUsed,
  heapSpacesSizeAndUsed,
  version,
];

const GC_KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

/**
 * The metrics of prom-client's `collectDefaultMetrics` (same names, same meaning), registered
 * into one app's registry, with a `stop()`.
 *
 * Why not `collectDefaultMetrics({ register })`: it starts an event-loop delay monitor (a
 * native timer sampling every 10 ms) and a GC `PerformanceObserver`, and gives no way to stop
 * either. Tests boot many apps in one process, so every app would leave both running for the
 * life of the process. Here those two are Keel's own, and `stop()` (app shutdown) ends them;
 * the other default collectors only read process state when scraped and are prom-client's.
 */
export function registerProcessMetrics(registry: Registry): { stop(): void } {
  for (const register of SCRAPE_TIME_COLLECTORS) register(registry);

  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const seconds = (nanoseconds: number) => (Number.isFinite(nanoseconds) ? nanoseconds / 1e9 : 0);
  const lagGauges = {
    min: new Gauge({
      name: 'nodejs_eventloop_lag_min_seconds',
      help: 'The minimum recorded event loop delay.',
      registers: [registry],
    }),
    max: new Gauge({
      name: 'nodejs_eventloop_lag_max_seconds',
      help: 'The maximum recorded event loop delay.',
      registers: [registry],
    }),
    mean: new Gauge({
      name: 'nodejs_eventloop_lag_mean_seconds',
      help: 'The mean of the recorded event loop delays.',
      registers: [registry],
    }),
    stddev: new Gauge({
      name: 'nodejs_eventloop_lag_stddev_seconds',
      help: 'The standard deviation of the recorded event loop delays.',
      registers: [registry],
    }),
    p50: new Gauge({
      name: 'nodejs_eventloop_lag_p50_seconds',
      help: 'The 50th percentile of the recorded event loop delays.',
      registers: [registry],
    }),
    p90: new Gauge({
      name: 'nodejs_eventloop_lag_p90_seconds',
      help: 'The 90th percentile of the recorded event loop delays.',
      registers: [registry],
    }),
    p99: new Gauge({
      name: 'nodejs_eventloop_lag_p99_seconds',
      help: 'The 99th percentile of the recorded event loop delays.',
      registers: [registry],
    }),
  };
  const lag: Gauge = new Gauge({
    name: 'nodejs_eventloop_lag_seconds',
    help: 'Lag of event loop in seconds.',
    registers: [registry],
    // As prom-client does: one collect sets every event-loop gauge. The lag itself is the wait
    // for setImmediate, so a scrape shows the value measured at the previous one.
    collect() {
      const start = process.hrtime.bigint();
      setImmediate(() => lag.set(Number(process.hrtime.bigint() - start) / 1e9));
      lagGauges.min.set(seconds(delay.min));
      lagGauges.max.set(seconds(delay.max));
      lagGauges.mean.set(seconds(delay.mean));
      lagGauges.stddev.set(seconds(delay.stddev));
      lagGauges.p50.set(seconds(delay.percentile(50)));
      lagGauges.p90.set(seconds(delay.percentile(90)));
      lagGauges.p99.set(seconds(delay.percentile(99)));
      delay.reset();
    },
  });

  const gc = new Histogram({
    name: 'nodejs_gc_duration_seconds',
    help: 'Garbage collection duration by kind, one of major, minor, incremental or weakcb.',
    labelNames: ['kind'],
    buckets: [0.001, 0.01, 0.1, 1, 2, 5],
    registers: [registry],
  });
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const { detail } = entry as { detail?: { kind?: number } };
      const kind = GC_KINDS[detail?.kind ?? -1];
      gc.observe({ kind: kind ?? 'unknown' }, entry.duration / 1000);
    }
  });
  observer.observe({ entryTypes: ['gc'] });

  return {
    stop() {
      delay.disable();
      observer.disconnect();
    },
  };
}
