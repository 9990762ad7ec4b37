import { useRef } from 'preact/hooks';
import type { LiveInstance, SessionCacheStatus } from '../shared/api';
import { DataTable } from '../shared/field';
import type { RuntimeReport } from './live';

type Instance = LiveInstance;
type CacheStatus = SessionCacheStatus;

/** What the replicas are measured against: the stored settings the console last read. */
export interface Expected {
  version: number;
  backend: string;
}

/** Why a replica is behind (empty when it is not): it serves another backend or older settings. */
export function behindReasons(instance: Instance, expected: Expected | undefined): string[] {
  const reasons: string[] = [];
  if (!expected) return reasons;
  if (instance.settingsVersion !== null && instance.settingsVersion < expected.version) {
    reasons.push(
      `serves settings version ${instance.settingsVersion}, the stored one is ${expected.version}`,
    );
  }
  if (instance.sessionBackend !== expected.backend) {
    reasons.push(
      `serves the ${instance.sessionBackend} backend, the settings name ${expected.backend}`,
    );
  }
  const status = instance.sessionCacheStatus;
  if (status && status.desired !== status.backend && !status.swapping) {
    reasons.push(`cannot switch to ${status.desired}: it keeps retrying`);
  }
  return reasons;
}

function seconds(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/**
 * Seconds left in a copy, from its rate since the console first saw it. Kept per swap (by its
 * total and start), so a new swap starts a new estimate.
 */
function useEstimate(progress: CacheStatus['progress']): string {
  const seen = useRef<{ key: string; at: number; migrated: number } | undefined>(undefined);
  if (!progress) {
    seen.current = undefined;
    return '';
  }
  const key = String(progress.total);
  const now = performance.now();
  if (!seen.current || seen.current.key !== key || progress.migrated < seen.current.migrated) {
    seen.current = { key, at: now, migrated: progress.migrated };
    return 'estimating the time left';
  }
  const rate = (progress.migrated - seen.current.migrated) / (now - seen.current.at);
  if (!(rate > 0)) return 'estimating the time left';
  return `about ${seconds((progress.total - progress.migrated) / rate)} left`;
}

/** A swap in progress, or the last one; `data-swap` says which (the browser test reads it). */
export function SwapState(props: { status: CacheStatus | null }) {
  const { status } = props;
  const estimate = useEstimate(status?.progress ?? null);
  if (!status) return <span data-swap="unknown">not reported</span>;
  if (status.progress) {
    const { migrated, total } = status.progress;
    return (
      <span data-swap="progress">
        Swapping to {status.backend}: copied {migrated} of {total} sessions,{' '}
        <progress
          max={total}
          value={migrated}
          aria-label={`Sessions copied to ${status.backend}`}
        />{' '}
        {estimate}
      </span>
    );
  }
  if (status.swapping)
    return (
      <span data-swap="handover">Swapping to {status.backend}: handing over between replicas</span>
    );
  const last = status.lastSwap;
  if (!last) return <span data-swap="none">No swap since start</span>;
  return (
    <span data-swap={last.error ? 'failed' : 'done'}>
      Last swap {last.from} → {last.to} at{' '}
      <time dateTime={last.at}>{new Date(last.at).toLocaleTimeString()}</time>: {last.migrated}{' '}
      sessions in {seconds(last.durationMs)}
      {last.error ? <strong class="bad"> failed: {last.error}</strong> : null}
    </span>
  );
}

export function ReplicasSection(props: {
  report: RuntimeReport | undefined;
  expected: Expected | undefined;
}) {
  const { report, expected } = props;
  return (
    <section aria-labelledby="replicas-title">
      <h2 id="replicas-title">Replicas</h2>
      {!report ? (
        <p>Waiting for the first report…</p>
      ) : (
        <DataTable
          id="replicas"
          label="Replicas table"
          columns={[
            'Replica',
            'Phase',
            'Version',
            'Backend',
            'Settings',
            'Heartbeat',
            'Session cache',
            'Up to date',
          ]}
        >
          {report.instances.map((instance) => {
            const reasons = behindReasons(instance, expected);
            const self = instance.instanceId === report.instanceId;
            return (
              <tr
                key={instance.instanceId}
                data-instance={instance.instanceId}
                class={reasons.length ? 'behind' : undefined}
              >
                <th scope="row">
                  {instance.host} <span class="muted">pid {instance.pid}</span>
                  {self ? <strong class="tag">this replica</strong> : null}
                </th>
                <td>{instance.phase}</td>
                <td>{instance.version}</td>
                <td data-backend>{instance.sessionBackend}</td>
                <td>{instance.settingsVersion ?? 'not reported'}</td>
                <td>{seconds(Math.max(0, Date.now() - Date.parse(instance.heartbeatAt)))} ago</td>
                <td>
                  <SwapState status={instance.sessionCacheStatus} />
                </td>
                <td>
                  {reasons.length ? (
                    <strong class="bad">Behind: {reasons.join('; ')}</strong>
                  ) : (
                    'Yes'
                  )}
                </td>
              </tr>
            );
          })}
        </DataTable>
      )}
      {report ? <TasksList report={report} /> : null}
    </section>
  );
}

function TasksList(props: { report: RuntimeReport }) {
  return (
    <>
      <h3>Tasks</h3>
      {props.report.instances.map((instance) => (
        <DataTable
          key={instance.instanceId}
          label={`Tasks of ${instance.host} (pid ${instance.pid})`}
          caption={
            <>
              {instance.host} <span class="muted">pid {instance.pid}</span>
            </>
          }
          columns={['Task', 'State', 'Restarts', 'Last error']}
        >
          {instance.tasks.map((task) => (
            <tr key={task.name}>
              <th scope="row">{task.name}</th>
              <td class={task.state === 'failed' ? 'bad' : undefined}>{task.state}</td>
              <td>{task.restarts}</td>
              <td>
                {task.lastError
                  ? `${task.lastError.message} (${new Date(task.lastError.at).toLocaleTimeString()})`
                  : 'none'}
              </td>
            </tr>
          ))}
        </DataTable>
      ))}
    </>
  );
}

export function SessionCacheSection(props: { report: RuntimeReport | undefined }) {
  const status = props.report?.sessionCache;
  return (
    <section aria-labelledby="cache-title">
      <h2 id="cache-title">Session cache</h2>
      {!status ? (
        <p>Waiting for the first report…</p>
      ) : (
        <dl id="session-cache">
          <dt>Served by this replica</dt>
          <dd>{status.backend}</dd>
          <dt>Named by the settings</dt>
          <dd>
            {status.desired}
            {status.desired !== status.backend && !status.swapping ? (
              <strong class="bad"> (this replica cannot follow: it keeps retrying)</strong>
            ) : null}
          </dd>
          <dt>Swap</dt>
          <dd>
            <SwapState status={status} />
          </dd>
        </dl>
      )}
    </section>
  );
}
