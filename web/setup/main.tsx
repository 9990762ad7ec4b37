import { render } from 'preact';
import { useState } from 'preact/hooks';
import { api, type SetupCompleted } from '../shared/api';
import { PasswordField, SelectField, Status, TextField, UsernameField } from '../shared/field';
import '../shared/styles.css';

type Errors = Record<string, string>;

// Errors without a field that still belong to one.
const FIELD_OF_CODE: Record<string, string> = {
  setup_token_invalid: 'token',
  username_taken: 'admin.username',
  backend_unavailable: 'settings.sessionCache.backend',
};
/** The form's fields in order, by the API's field names (for focusing the first invalid one). */
const FIELDS: [string, string][] = [
  ['token', 'token'],
  ['admin.username', 'username'],
  ['admin.password', 'password'],
  ['admin.email', 'email'],
  ['settings.sessionCache.backend', 'backend'],
];

/**
 * The token comes in the URL fragment, which the browser never sends to a server (so no access
 * log has it). Taken into the form, then dropped from the address bar and history.
 */
function tokenFromLink(): string {
  const token = new URLSearchParams(window.location.hash.slice(1)).get('token') ?? '';
  if (token)
    window.history.replaceState(null, '', window.location.pathname + window.location.search);
  return token;
}

function SetupForm() {
  const [form, setForm] = useState(() => ({
    token: tokenFromLink(),
    username: '',
    password: '',
    email: '',
    backend: 'memory',
  }));
  const { token, username, password, email, backend } = form;
  const [errors, setErrors] = useState<Errors>({});
  const [status, setStatus] = useState('');
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<string | undefined>();
  const [notApplied, setNotApplied] = useState<{ username: string; error: string } | undefined>();
  /** A control's id, value, setter and error (by the API's field name). */
  const bind = (key: keyof typeof form) => ({
    id: key,
    value: form[key],
    onValue: (value: string) => setForm((current) => ({ ...current, [key]: value })),
    error: errors[FIELDS.find(([, id]) => id === key)![0]],
  });

  const showProblem = (problem: {
    code?: string;
    message?: string;
    fields?: { field: string; message: string }[];
  }) => {
    const found: Errors = {};
    const unplaced: string[] = [];
    const known = new Set(FIELDS.map(([field]) => field));
    for (const entry of problem.fields ?? []) {
      if (known.has(entry.field))
        found[entry.field] = [found[entry.field], entry.message].filter(Boolean).join(' ');
      else unplaced.push(entry.message);
    }
    const field = problem.code ? FIELD_OF_CODE[problem.code] : undefined;
    if (!problem.fields?.length) {
      if (field) found[field] = problem.message ?? '';
      else unplaced.push(problem.message ?? 'Setup failed; try again.');
    }
    setErrors(found);
    const first = FIELDS.find(([name]) => found[name]);
    setStatus(
      [first ? 'Setup is not complete: check the fields marked below.' : '', ...unplaced]
        .filter(Boolean)
        .join(' '),
    );
    if (first) requestAnimationFrame(() => document.getElementById(first[1])?.focus());
  };

  const submit = async (event: Event) => {
    event.preventDefault();
    setErrors({});
    setBusy(true);
    setStatus('Completing setup…');
    const admin: { username: string; password: string; email?: string } = {
      username: username.trim(),
      password,
    };
    if (email.trim()) admin.email = email.trim();
    try {
      const answer = await api<SetupCompleted & { code?: string; message?: string }>(
        'POST',
        '/api/setup',
        {
          body: { token: token.trim(), admin, settings: { sessionCache: { backend } } },
        },
      );
      if (answer.status === 201) {
        const { user, settings } = answer.body;
        if (settings?.applied === false) {
          // The admin exists and is signed in, but the chosen settings are not in force: say
          // so before the console, which would show the defaults without saying why.
          setNotApplied({ username: user.username, error: settings.error ?? 'unknown error' });
          requestAnimationFrame(() => document.getElementById('not-applied-title')?.focus());
          return;
        }
        setStatus(`Setup is complete: signed in as ${user.username}. Opening the console…`);
        // The new admin is signed in: the console is where they go next. The button stays
        // disabled: the form is done, and a second submit would only meet setup_completed.
        window.location.assign('/console');
        return;
      }
      setBusy(false);
      if (answer.body.code === 'setup_completed') {
        setDone('An administrator account exists already; sign in on the console instead.');
      } else {
        showProblem(answer.body);
      }
    } catch (error) {
      setBusy(false);
      setStatus(
        `The server could not be reached (${(error as Error).message}). Check that it runs, then try again.`,
      );
    }
  };

  if (notApplied) {
    return (
      <section id="not-applied" class="notice" aria-labelledby="not-applied-title">
        <h2 id="not-applied-title" tabIndex={-1}>
          Setup is complete, but its settings were not applied
        </h2>
        <p>
          You are signed in as {notApplied.username}. The session cache you chose could not be used
          ({notApplied.error}), so the defaults are in force. Change it in the console's settings
          once the cause is fixed.
        </p>
        <p>
          <a href="/console">Open the console</a>
        </p>
      </section>
    );
  }

  if (done) {
    return (
      <section id="done" class="notice">
        <h2>Setup was already complete</h2>
        <p>
          {done} <a href="/console">Open the console</a>
        </p>
      </section>
    );
  }
  return (
    <>
      <p id="intro">Create the first administrator account. This can be done once.</p>
      <Status id="status" message={status} />
      <form id="setup-form" noValidate onSubmit={submit}>
        <TextField
          {...bind('token')}
          label="Setup token"
          hint={
            <>
              Filled in when you open the link from the server log; otherwise copy it from the file{' '}
              <code>setup-token</code> in the data directory.
            </>
          }
          autocomplete="off"
          required
          verbatim
        />
        <fieldset>
          <legend>Administrator account</legend>
          <UsernameField
            {...bind('username')}
            hint={
              <>
                3 to 64 letters, digits, or <code>_ . @ -</code>
              </>
            }
            autocomplete="username"
          />
          <PasswordField
            {...bind('password')}
            hint="12 to 256 characters"
            autocomplete="new-password"
          />
          <TextField
            {...bind('email')}
            label={
              <>
                Email <span class="optional">(optional)</span>
              </>
            }
            type="email"
            hint="For your records; Keel sends no mail."
            autocomplete="email"
          />
        </fieldset>
        <fieldset>
          <legend>Sessions</legend>
          <SelectField
            {...bind('backend')}
            label="Session cache"
            hint="Where sign-in sessions are kept. Memory suits one server; with several, choose database or Redis. Admins can change this later."
            choices={[
              ['memory', 'Memory (this process)'],
              ['database', 'Database'],
              ['redis', 'Redis'],
            ]}
          />
        </fieldset>
        <button type="submit" disabled={busy}>
          Complete setup
        </button>
      </form>
    </>
  );
}

const root = document.getElementById('setup');
if (root) {
  root.textContent = '';
  render(<SetupForm />, root);
}
