import { useEffect, useState } from 'preact/hooks';
import { api, describeProblem, problemOf, type Schemas } from '../shared/api';
import { Field, Status } from '../shared/field';
import {
  loadSettingFields,
  mergePatch,
  parseInput,
  rangeOf,
  type SettingField,
  valueAt,
} from './settings-schema';

type Settings = Schemas['SettingsResponse'];
type HistoryEntry = Schemas['SettingsHistoryEntryResponse'];

/** A save refused with 412: the settings as they are now, and what changed since the form's version. */
interface Conflict {
  current: Settings;
  changes: { key: string; from: unknown; to: unknown }[];
  by: string;
}

const show = (value: unknown): string => (value === undefined ? '(none)' : JSON.stringify(value));
const fieldId = (key: string) => `setting-${key.replace(/\./g, '-')}`;

/**
 * The settings, their form and their history. `liveVersion` is the version the replicas
 * report: when it moves past the form's, the history is read again, and so are the values
 * unless the form holds edits (they are never replaced under the operator's hands; saving them
 * then meets the 412 and shows what changed).
 */
export function SettingsSection(props: {
  liveVersion: number | undefined;
  onSettings: (settings: Settings) => void;
}) {
  const [fields, setFields] = useState<SettingField[]>([]);
  const [settings, setSettings] = useState<Settings | undefined>();
  const [history, setHistory] = useState<HistoryEntry[]>([]);
  const [edits, setEdits] = useState<Record<string, string>>({});
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [conflict, setConflict] = useState<Conflict | undefined>();
  const [status, setStatus] = useState('');
  const [busy, setBusy] = useState(false);
  const dirty = Object.keys(edits).length > 0;

  const take = (next: Settings) => {
    setSettings(next);
    props.onSettings(next);
  };
  const loadSettings = async (): Promise<Settings | undefined> => {
    const answer = await api<Settings>('GET', '/api/settings');
    if (!answer.ok) {
      setStatus(`Could not read the settings: ${describeProblem(answer)}`);
      return undefined;
    }
    return answer.body;
  };
  const loadHistory = async () => {
    const answer = await api<HistoryEntry[]>('GET', '/api/settings/history');
    if (answer.ok) setHistory(answer.body);
  };

  useEffect(() => {
    void loadSettingFields().then(setFields, (error: Error) =>
      setStatus(`Could not read the settings schema: ${error.message}`),
    );
    void loadSettings().then((next) => next && take(next));
    void loadHistory();
  }, []);

  useEffect(() => {
    if (!settings || props.liveVersion === undefined || props.liveVersion <= settings.version)
      return;
    void loadHistory();
    if (!dirty) void loadSettings().then((next) => next && take(next));
  }, [props.liveVersion]);

  if (!settings || fields.length === 0) {
    return (
      <section aria-labelledby="settings-title">
        <h2 id="settings-title">Settings</h2>
        <Status message={status || 'Loading the settings…'} />
      </section>
    );
  }

  const textOf = (key: string) => edits[key] ?? String(valueAt(settings.values, key) ?? '');
  const edit = (key: string, text: string) => {
    const next = { ...edits };
    if (text === String(valueAt(settings.values, key) ?? '')) delete next[key];
    else next[key] = text;
    setEdits(next);
  };

  const save = async (event: Event) => {
    event.preventDefault();
    setErrors({});
    setBusy(true);
    setStatus('Saving…');
    const changes = Object.fromEntries(
      fields
        .filter((field) => field.key in edits)
        .map((field) => [field.key, parseInput(field, edits[field.key]!)]),
    );
    try {
      const answer = await api<Settings>('PATCH', '/api/settings', {
        body: { values: mergePatch(changes) },
        headers: { 'If-Match': `"${settings.version}"` },
      });
      if (answer.ok) {
        take(answer.body);
        setEdits({});
        setConflict(undefined);
        setStatus(`Saved: the settings are at version ${answer.body.version}.`);
        void loadHistory();
      } else if (answer.status === 412) {
        await showConflict();
      } else {
        const problem = problemOf(answer);
        const byField: Record<string, string> = {};
        for (const entry of problem?.fields ?? []) {
          const field = fields.find(
            (candidate) =>
              entry.field === candidate.key || entry.field.endsWith(`.${candidate.key}`),
          );
          if (field) byField[field.key] = entry.message;
        }
        setErrors(byField);
        setStatus(`Not saved: ${describeProblem(answer)}`);
        const first = fields.find((field) => byField[field.key]);
        if (first) document.getElementById(fieldId(first.key))?.focus();
      }
    } finally {
      setBusy(false);
    }
  };

  const showConflict = async () => {
    const current = await loadSettings();
    await loadHistory();
    if (!current) return;
    const latest = (await api<HistoryEntry[]>('GET', '/api/settings/history')).body?.[0];
    const changes = fields
      .map((field) => ({
        key: field.key,
        from: valueAt(settings.values, field.key),
        to: valueAt(current.values, field.key),
      }))
      .filter((change) => JSON.stringify(change.from) !== JSON.stringify(change.to));
    setConflict({ current, changes, by: latest?.changedBy ?? 'someone else' });
    setStatus(
      'Not saved: the settings were changed by someone else. Reload them, then apply your change again.',
    );
    requestAnimationFrame(() => document.getElementById('settings-conflict')?.focus());
  };

  const reload = () => {
    if (!conflict) return;
    take(conflict.current);
    setEdits({});
    setConflict(undefined);
    setStatus(
      `Reloaded: version ${conflict.current.version}. Your edits were dropped; apply them again.`,
    );
    requestAnimationFrame(() => document.getElementById(fieldId(fields[0]!.key))?.focus());
  };

  return (
    <section aria-labelledby="settings-title">
      <h2 id="settings-title">Settings</h2>
      <p>
        Version <strong id="settings-version">{settings.version}</strong>. Each value says where it
        comes from: default, environment or override.
      </p>
      <Status id="settings-status" message={status} />
      {conflict ? (
        <div id="settings-conflict" class="conflict" role="alert" tabIndex={-1}>
          <h3>Changed by someone else: reload</h3>
          <p>
            Version {conflict.current.version} (by {conflict.by}) was saved after the version{' '}
            {settings.version} your edits are based on. What changed:
          </p>
          <ul>
            {conflict.changes.map((change) => (
              <li key={change.key}>
                <code>{change.key}</code>: {show(change.from)} → {show(change.to)}
              </li>
            ))}
          </ul>
          <button type="button" onClick={reload}>
            Reload the settings
          </button>
        </div>
      ) : null}
      <form id="settings-form" noValidate onSubmit={save}>
        {fields.map((field) => {
          const id = fieldId(field.key);
          const source = (settings.sources as Record<string, string>)[field.key] ?? 'default';
          const hint = [
            rangeOf(field),
            field.default !== undefined ? `default ${show(field.default)}` : '',
            `now from: ${source}`,
            field.description ?? '',
          ]
            .filter(Boolean)
            .join('. ');
          return (
            <Field
              key={field.key}
              id={id}
              label={<code>{field.key}</code>}
              hint={hint}
              error={errors[field.key]}
            >
              {(describedBy, invalid) =>
                field.kind === 'choice' ? (
                  <select
                    id={id}
                    aria-describedby={describedBy}
                    aria-invalid={invalid ? 'true' : undefined}
                    value={textOf(field.key)}
                    onChange={(e) => edit(field.key, e.currentTarget.value)}
                  >
                    {field.choices!.map((choice) => (
                      <option key={choice} value={choice}>
                        {choice}
                      </option>
                    ))}
                  </select>
                ) : field.kind === 'string' ? (
                  <input
                    id={id}
                    type="text"
                    minLength={field.minLength}
                    maxLength={field.maxLength}
                    aria-describedby={describedBy}
                    aria-invalid={invalid ? 'true' : undefined}
                    value={textOf(field.key)}
                    onInput={(e) => edit(field.key, e.currentTarget.value)}
                  />
                ) : (
                  <input
                    id={id}
                    type="number"
                    min={field.minimum}
                    max={field.maximum}
                    step={field.kind === 'integer' ? 1 : 'any'}
                    aria-describedby={describedBy}
                    aria-invalid={invalid ? 'true' : undefined}
                    value={textOf(field.key)}
                    onInput={(e) => edit(field.key, e.currentTarget.value)}
                  />
                )
              }
            </Field>
          );
        })}
        <button id="save-settings" type="submit" disabled={busy || !dirty}>
          Save settings
        </button>
      </form>
      <h3>History</h3>
      <ol id="settings-history" class="history">
        {history.map((entry) => (
          <li key={entry.version}>
            <p>
              Version {entry.version},{' '}
              <time dateTime={entry.changedAt}>{new Date(entry.changedAt).toLocaleString()}</time>,
              by {entry.changedBy ?? 'the system'}
            </p>
            <ul>
              {Object.entries(entry.changes).map(([key, change]) => (
                <li key={key}>
                  <code>{key}</code>: {show((change as { from?: unknown }).from)} →{' '}
                  {show((change as { to?: unknown }).to)}
                </li>
              ))}
            </ul>
          </li>
        ))}
      </ol>
    </section>
  );
}
