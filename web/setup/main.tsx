import { render } from 'preact';
import { useState } from 'preact/hooks';
import { api, type Schemas } from '../shared/api';
import { Field, Status } from '../shared/field';
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
  const [token, setToken] = useState(tokenFromLink);
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [email, setEmail] = useState('');
  const [backend, setBackend] = useState('memory');
  const [errors, setErrors] = useState<Errors>({});
  const [status, setStatus] = useState('');
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<string | undefined>();

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
      const answer = await api<
        Schemas['SetupCompletedResponse'] & { code?: string; message?: string }
      >('POST', '/api/setup', {
        body: { token: token.trim(), admin, settings: { sessionCache: { backend } } },
      });
      if (answer.status === 201) {
        setStatus(
          `Setup is complete: signed in as ${answer.body.user.username}. Opening the console…`,
        );
        // The new admin is signed in: the console is where they go next.
        window.location.assign('/console');
      } else if (answer.body.code === 'setup_completed') {
        setDone('An administrator account exists already; sign in on the console instead.');
      } else {
        showProblem(answer.body);
      }
    } catch (error) {
      setStatus(
        `The server could not be reached (${(error as Error).message}). Check that it runs, then try again.`,
      );
    } finally {
      setBusy(false);
    }
  };

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
        <Field
          id="token"
          label="Setup token"
          error={errors.token}
          hint={
            <>
              Filled in when you open the link from the server log; otherwise copy it from the file{' '}
              <code>setup-token</code> in the data directory.
            </>
          }
        >
          {(describedBy, invalid) => (
            <input
              id="token"
              name="token"
              type="text"
              autocomplete="off"
              spellcheck={false}
              autocapitalize="off"
              required
              aria-describedby={describedBy}
              aria-invalid={invalid ? 'true' : undefined}
              value={token}
              onInput={(e) => setToken(e.currentTarget.value)}
            />
          )}
        </Field>
        <fieldset>
          <legend>Administrator account</legend>
          <Field
            id="username"
            label="Username"
            error={errors['admin.username']}
            hint={
              <>
                3 to 64 letters, digits, or <code>_ . @ -</code>
              </>
            }
          >
            {(describedBy, invalid) => (
              <input
                id="username"
                name="username"
                type="text"
                autocomplete="username"
                autocapitalize="off"
                spellcheck={false}
                required
                aria-describedby={describedBy}
                aria-invalid={invalid ? 'true' : undefined}
                value={username}
                onInput={(e) => setUsername(e.currentTarget.value)}
              />
            )}
          </Field>
          <Field
            id="password"
            label="Password"
            error={errors['admin.password']}
            hint="12 to 256 characters"
          >
            {(describedBy, invalid) => (
              <input
                id="password"
                name="password"
                type="password"
                autocomplete="new-password"
                required
                aria-describedby={describedBy}
                aria-invalid={invalid ? 'true' : undefined}
                value={password}
                onInput={(e) => setPassword(e.currentTarget.value)}
              />
            )}
          </Field>
          <Field
            id="email"
            label={
              <>
                Email <span class="optional">(optional)</span>
              </>
            }
            error={errors['admin.email']}
            hint="For your records; Keel sends no mail."
          >
            {(describedBy, invalid) => (
              <input
                id="email"
                name="email"
                type="email"
                autocomplete="email"
                aria-describedby={describedBy}
                aria-invalid={invalid ? 'true' : undefined}
                value={email}
                onInput={(e) => setEmail(e.currentTarget.value)}
              />
            )}
          </Field>
        </fieldset>
        <fieldset>
          <legend>Sessions</legend>
          <Field
            id="backend"
            label="Session cache"
            error={errors['settings.sessionCache.backend']}
            hint="Where sign-in sessions are kept. Memory suits one server; with several, choose database or Redis. Admins can change this later."
          >
            {(describedBy, invalid) => (
              <select
                id="backend"
                name="backend"
                aria-describedby={describedBy}
                aria-invalid={invalid ? 'true' : undefined}
                value={backend}
                onChange={(e) => setBackend(e.currentTarget.value)}
              >
                <option value="memory">Memory (this process)</option>
                <option value="database">Database</option>
                <option value="redis">Redis</option>
              </select>
            )}
          </Field>
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
