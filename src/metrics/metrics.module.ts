import { Module } from '@nestjs/common';
import { SessionCacheModule } from '../session-cache/session-cache.module.js';
import { SettingsModule } from '../settings/settings.module.js';
import { HttpMetrics } from './http-metrics.js';
import { MetricsController } from './metrics.controller.js';
import { MetricsRegistry } from './metrics-registry.js';
import { MetricsServer } from './metrics-server.js';
import { RuntimeMetrics } from './runtime-metrics.js';
import { SessionCacheMetrics } from './session-cache-metrics.js';

/**
 * Prometheus metrics (docs/operations.md, "Metrics"): one registry per app, the default Node
 * process metrics, HTTP requests, and what the runtime state, the session cache and the
 * settings know, read at scrape time. Served by `MetricsServer` on `METRICS_PORT` and by
 * `MetricsController` on the main port with `METRICS_TOKEN`.
 *
 * This module depends on the others; none of them knows about it (the session cache only
 * offers a backend decorator and a swap event).
 */
@Module({
  imports: [SessionCacheModule, SettingsModule],
  controllers: [MetricsController],
  providers: [MetricsRegistry, HttpMetrics, RuntimeMetrics, SessionCacheMetrics, MetricsServer],
  exports: [MetricsRegistry, MetricsServer],
})
export class MetricsModule {}
