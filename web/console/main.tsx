import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import {
  api,
  describeProblem,
  problemOf,
  rememberCsrfToken,
  type Me as MeAnswer,
  type SignedIn,
  type UserSummary,
} from '../shared/api';
import { PasswordField, Status, UsernameField } from '../shared/field';
import '../shared/styles.css';
import { useRuntimeEvents } from './live';
import { type Expected, ReplicasSection, SessionCacheSection } from './replicas';
import { SettingsSection } from './settings';
import { OwnSessionsSection, UsersSection } from './users';

type Me = UserSummary;

/** The page's heading takes the focus when what the page shows changes as a whole (sign-in, sign-out). */
const focusHeading = () =>
  requestAnimationFrame(() => document.getElementById('page-title')?.focus());

const unreachable = (error: unknown) =>
  `The server could not be reached (${(error as Error).message}). Check the connection, then try again.`;

function SignIn(props: { onSignedIn: (user: Me) => void; notice: string }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [status, setStatus] = useState(props.notice);
  const submit = async (event: Event) => {
    event.preventDefault();
    setStatus('Signing in…');
    let answer;
    try {
      answer = await api<SignedIn>('POST', '/api/auth/login', {
        body: { username: username.trim(), password },
      });
    } catch (error) {
      setStatus(`Not signed in: ${unreachable(error)}`);
      return;
    }
    if (!answer.ok) {
      setStatus(`Not signed in: ${describeProblem(answer)}`);
      document.getElementById('login-username')?.focus();
      return;
    }
    rememberCsrfToken(answer.body.csrfToken);
    props.onSignedIn(answer.body.user);
  };
  return (
    <form id="sign-in" onSubmit={submit}>
      <h2>Sign in</h2>
      <Status message={status} />
      <UsernameField
        id="login-username"
        autocomplete="username"
        value={username}
        onValue={setUsername}
      />
      <PasswordField
        id="login-password"
        autocomplete="current-password"
        value={password}
        onValue={setPassword}
      />
      <button type="submit">Sign in</button>
    </form>
  );
}

const CONNECTION_TEXT = {
  connecting: 'Connecting…',
  live: 'Live: updates as they happen.',
  reconnecting: 'Connection lost: reconnecting…',
};

function Console(props: { me: Me; onSignedOut: () => void }) {
  const { report, connection } = useRuntimeEvents(props.onSignedOut);
  // The stored settings replicas are measured against (the newest read), not the form's base.
  const [expected, setExpected] = useState<Expected | undefined>();
  const liveVersion = report?.instances.reduce(
    (max, instance) => Math.max(max, instance.settingsVersion ?? 0),
    0,
  );
  const signOut = async () => {
    // Signed out here whatever the answer: a failed logout still ends the session's use here.
    await api('POST', '/api/auth/logout').catch(() => undefined);
    props.onSignedOut();
  };
  return (
    <>
      <div class="bar">
        <p>
          Signed in as <strong>{props.me.username}</strong> (admin).
        </p>
        <button type="button" class="secondary" onClick={() => void signOut()}>
          Sign out
        </button>
      </div>
      <p id="connection" class="status" role="status" aria-live="polite">
        {CONNECTION_TEXT[connection]}
      </p>
      <nav aria-label="Sections">
        <a href="#replicas-title">Replicas</a> <a href="#cache-title">Session cache</a>{' '}
        <a href="#settings-title">Settings</a> <a href="#users-title">Users</a>{' '}
        <a href="#sessions-title">Your sessions</a>
      </nav>
      <ReplicasSection report={report} expected={expected} />
      <SessionCacheSection report={report} />
      <SettingsSection
        liveVersion={liveVersion}
        onStored={(settings) =>
          setExpected({ version: settings.version, backend: settings.values.sessionCache.backend })
        }
      />
      <UsersSection myId={props.me.id} onSignedOut={props.onSignedOut} />
      <OwnSessionsSection onSignedOut={props.onSignedOut} />
    </>
  );
}

/** Why the console cannot start: the first `/api/auth/me` failed with neither a user nor a 401. */
type Blocked = { setup: true } | { setup: false; message: string };

function App() {
  const [me, setMe] = useState<Me | null | 'loading'>('loading');
  const [blocked, setBlocked] = useState<Blocked | undefined>();
  const [notice, setNotice] = useState('');
  const whoAmI = async () => {
    setBlocked(undefined);
    try {
      const answer = await api<MeAnswer>('GET', '/api/auth/me');
      if (answer.ok) return setMe(answer.body.user);
      if (answer.status === 401) return setMe(null);
      // A 503 (setup required, the session store down) or a proxy's error: say so, not "sign in".
      if (problemOf(answer)?.code === 'setup_required') return setBlocked({ setup: true });
      setBlocked({ setup: false, message: describeProblem(answer) });
    } catch (error) {
      setBlocked({ setup: false, message: unreachable(error) });
    }
  };
  useEffect(() => void whoAmI(), []);
  const signedOut = () => {
    rememberCsrfToken(undefined);
    setNotice('You are signed out: your session ended.');
    setMe(null);
    focusHeading();
  };
  if (blocked?.setup) {
    return (
      <section id="blocked" class="notice" aria-labelledby="blocked-title">
        <h2 id="blocked-title">Setup is not complete</h2>
        <p>
          This server has no administrator yet. <a href="/setup">Complete the setup</a> first.
        </p>
      </section>
    );
  }
  if (blocked) {
    return (
      <section id="blocked" class="notice" aria-labelledby="blocked-title">
        <h2 id="blocked-title">The console cannot load</h2>
        <p role="alert">{blocked.message}</p>
        <button type="button" onClick={() => void whoAmI()}>
          Try again
        </button>
      </section>
    );
  }
  if (me === 'loading') return <Status message="Loading…" />;
  if (me === null)
    return (
      <SignIn
        notice={notice}
        onSignedIn={(user) => {
          setNotice('');
          setMe(user);
          focusHeading();
        }}
      />
    );
  if (me.role !== 'admin') {
    return (
      <section id="admins-only" aria-labelledby="admins-only-title">
        <h2 id="admins-only-title">Admins only</h2>
        <p>You are signed in as {me.username}, a member. The console is for administrators.</p>
        <button
          type="button"
          onClick={() =>
            void api('POST', '/api/auth/logout')
              .catch(() => undefined)
              .then(signedOut)
          }
        >
          Sign out
        </button>
      </section>
    );
  }
  return <Console me={me} onSignedOut={signedOut} />;
}

const root = document.getElementById('console');
if (root) {
  root.textContent = '';
  render(<App />, root);
}
