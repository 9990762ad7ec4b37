import { useEffect, useRef, useState } from 'preact/hooks';
import {
  api,
  describeProblem,
  problemOf,
  type Settings,
  type SettingsHistoryEntry as HistoryEntry,
} from '../shared/api';
import { Field, Status } from '../shared/field';
import {
  mergePatch,
  parseInput,
  rangeOf,
  SETTING_FIELDS as fields,
  valueAt,
} from './settings-schema';

/** A save refused with 412: the settings as they are now, and what changed since the form's version. */
interface Conflict {
  current: Settings;
  changes: { key: string; from: unknown; to: unknown }[];
  /** Who saved the versions since the form's: usernames, and "the system" for its compensations. */
  by: string[];
}

const show = (value: unknown): string => (value === undefined ? '(none)' : JSON.stringify(value));
const fieldId = (key: string) => `setting-${key.replace(/\./g, '-')}`;
const authorOf = (entry: HistoryEntry) => entry.changedBy ?? 'the system';

/**
 * The settings, their form and their history. Two versions are kept apart: the form's base
 * (what its values and `If-Match` come from) and the stored settings (the newest read, which
 * `onStored` reports, so replicas are compared with what is stored, not with the form).
 * `liveVersion` is the version the replicas report: when it moves past the stored one, the
 * settings and the history are read again, and the form takes the new values only if it holds
 * no edits when the answer arrives (they are never replaced under the operator's hands; saving
 * them then meets the 412 and shows what changed).
 */
export function SettingsSection(props: {
  liveVersion: number | undefined;
  onStored: (settings: Settings) => void;
}) {
  const [settings, setSettings] = useState<Settings | undefined>();
  const [history, setHistory] = useState<HistoryEntry[]>([]);
  const [edits, setEdits] = useState<Record<string, string>>({});
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [conflict, setConflict] = useState<Conflict | undefined>();
  const [status, setStatus] = useState('');
  const [busy, setBusy] = useState(false);
  const dirty = Object.keys(edits).length > 0;
  // What a read's answer checks when it arrives, not what the form held when it was sent.
  const editsNow = useRef(edits);
  editsNow.current = edits;
  const storedVersion = useRef(0);

  const loadSettings = async (): Promise<Settings | undefined> => {
    const answer = await api<Settings>('GET', '/api/settings');
    if (!answer.ok) {
      setStatus(`Could not read the settings: ${describeProblem(answer)}`);
      return undefined;
    }
    stored(answer.body);
    return answer.body;
  };
  const stored = (next: Settings) => {
    if (next.version < storedVersion.current) return;
    storedVersion.current = next.version;
    props.onStored(next);
  };
  /** Reads the settings, and takes them into the form if it holds no edits by then. */
  const refresh = async () => {
    const next = await loadSettings();
    if (!next || Object.keys(editsNow.current).length > 0) return;
    setSettings((form) => (form && form.version > next.version ? form : next));
  };
  const loadHistory = async (): Promise<HistoryEntry[] | undefined> => {
    const answer = await api<HistoryEntry[]>('GET', '/api/settings/history');
    if (!answer.ok) return undefined;
    setHistory(answer.body);
    return answer.body;
  };

  useEffect(() => {
    void refresh();
    void loadHistory();
  }, []);

  useEffect(() => {
    if (props.liveVersion === undefined || props.liveVersion <= storedVersion.current) return;
    void loadHistory();
    void refresh();
  }, [props.liveVersion]);

  if (!settings) {
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
        stored(answer.body);
        setSettings(answer.body);
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
    const [current, entries] = await Promise.all([loadSettings(), loadHistory()]);
    if (!current) return;
    const since = (entries ?? []).filter((entry) => entry.version > settings.version);
    const by = [...new Set(since.map(authorOf))];
    const changes = fields
      .map((field) => ({
        key: field.key,
        from: valueAt(settings.values, field.key),
        to: valueAt(current.values, field.key),
      }))
      .filter((change) => JSON.stringify(change.from) !== JSON.stringify(change.to));
    setConflict({ current, changes, by });
    setStatus(
      `Not saved: the settings were changed by ${changedBy(by)}. Reload them, then apply your change again.`,
    );
    requestAnimationFrame(() => document.getElementById('settings-conflict')?.focus());
  };

  const reload = () => {
    if (!conflict) return;
    setSettings(conflict.current);
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
          <h3>Changed by {changedBy(conflict.by)}: reload</h3>
          <p>
            Version {conflict.current.version} was saved after the version {settings.version} your
            edits are based on
            {conflict.by.length ? ` (by ${conflict.by.join(', ')})` : ''}. What changed:
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
              by {authorOf(entry)}
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

/** "someone else", or "the system" when only its compensating changes came in between. */
function changedBy(authors: string[]): string {
  return authors.length > 0 && authors.every((author) => author === 'the system')
    ? 'the system'
    : 'someone else';
}
