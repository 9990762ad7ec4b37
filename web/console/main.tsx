import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, describeProblem, rememberCsrfToken, type Schemas } from '../shared/api';
import { PasswordField, Status, UsernameField } from '../shared/field';
import '../shared/styles.css';
import { useRuntimeEvents } from './live';
import { type Expected, ReplicasSection, SessionCacheSection } from './replicas';
import { SettingsSection } from './settings';
import { OwnSessionsSection, UsersSection } from './users';

type Me = Schemas['UserSummaryResponse'];

function SignIn(props: { onSignedIn: (user: Me) => void; notice: string }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [status, setStatus] = useState(props.notice);
  const submit = async (event: Event) => {
    event.preventDefault();
    setStatus('Signing in…');
    const answer = await api<Schemas['SignedInResponse']>('POST', '/api/auth/login', {
      body: { username: username.trim(), password },
    });
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
  const [expected, setExpected] = useState<Expected | undefined>();
  const liveVersion = report?.instances.reduce(
    (max, instance) => Math.max(max, instance.settingsVersion ?? 0),
    0,
  );
  const signOut = async () => {
    await api('POST', '/api/auth/logout');
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
        onSettings={(settings) =>
          setExpected({ version: settings.version, backend: settings.values.sessionCache.backend })
        }
      />
      <UsersSection myId={props.me.id} />
      <OwnSessionsSection onSignedOut={props.onSignedOut} />
    </>
  );
}

function App() {
  const [me, setMe] = useState<Me | null | 'loading'>('loading');
  const [notice, setNotice] = useState('');
  useEffect(() => {
    void api<Schemas['MeResponse']>('GET', '/api/auth/me').then(
      (answer) => setMe(answer.ok ? answer.body.user : null),
      () => setMe(null),
    );
  }, []);
  const signedOut = () => {
    rememberCsrfToken(undefined);
    setNotice('You are signed out: your session ended.');
    setMe(null);
  };
  if (me === 'loading') return <Status message="Loading…" />;
  if (me === null)
    return (
      <SignIn
        notice={notice}
        onSignedIn={(user) => {
          setNotice('');
          setMe(user);
        }}
      />
    );
  if (me.role !== 'admin') {
    return (
      <section id="admins-only" aria-labelledby="admins-only-title">
        <h2 id="admins-only-title">Admins only</h2>
        <p>You are signed in as {me.username}, a member. The console is for administrators.</p>
        <button type="button" onClick={() => void api('POST', '/api/auth/logout').then(signedOut)}>
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
