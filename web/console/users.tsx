import { useEffect, useState } from 'preact/hooks';
import { api, describeProblem, type Schemas } from '../shared/api';
import {
  DataTable,
  PasswordField,
  SelectField,
  Status,
  TextField,
  UsernameField,
} from '../shared/field';

type User = Schemas['PublicUserResponse'];
type OwnSession = Schemas['OwnSessionResponse'];

const when = (at: string | null) => (at ? new Date(at).toLocaleString() : 'unknown');

export function UsersSection(props: { myId: string }) {
  const [users, setUsers] = useState<User[]>([]);
  const [status, setStatus] = useState('');
  const [draft, setDraft] = useState({ username: '', password: '', email: '', role: 'member' });
  const load = async () => {
    const answer = await api<User[]>('GET', '/api/users');
    if (answer.ok) setUsers(answer.body);
    else setStatus(`Could not list the users: ${describeProblem(answer)}`);
  };
  useEffect(() => void load(), []);

  const change = async (user: User, patch: Record<string, unknown>, done: string) => {
    const answer = await api('PATCH', `/api/users/${encodeURIComponent(user.id)}`, { body: patch });
    setStatus(answer.ok ? done : `${user.username} unchanged: ${describeProblem(answer)}`);
    await load();
  };
  const create = async (event: Event) => {
    event.preventDefault();
    const body: Record<string, string> = {
      username: draft.username.trim(),
      password: draft.password,
      role: draft.role,
    };
    if (draft.email.trim()) body.email = draft.email.trim();
    const answer = await api('POST', '/api/users', { body });
    if (answer.ok) {
      setDraft({ username: '', password: '', email: '', role: 'member' });
      setStatus(`Created ${body.username}.`);
      await load();
    } else {
      setStatus(`Not created: ${describeProblem(answer)}`);
    }
  };
  const bind = (key: keyof typeof draft) => ({
    id: `new-${key}`,
    value: draft[key],
    onValue: (value: string) => setDraft((current) => ({ ...current, [key]: value })),
  });

  return (
    <section aria-labelledby="users-title">
      <h2 id="users-title">Users</h2>
      <Status message={status} />
      <DataTable id="users" label="Users table" columns={['User', 'Email', 'Role', 'Access']}>
        {users.map((user) => (
          <tr key={user.id}>
            <th scope="row">
              {user.username}
              {user.id === props.myId ? <strong class="tag">you</strong> : null}
            </th>
            <td>{user.email ?? ''}</td>
            <td>
              <select
                aria-label={`Role of ${user.username}`}
                value={user.role}
                onChange={(e) =>
                  void change(
                    user,
                    { role: e.currentTarget.value },
                    `${user.username} is now ${e.currentTarget.value}.`,
                  )
                }
              >
                <option value="admin">admin</option>
                <option value="member">member</option>
              </select>
            </td>
            <td>
              <button
                type="button"
                class="secondary"
                onClick={() =>
                  void change(
                    user,
                    { disabled: !user.disabled },
                    `${user.username} is ${user.disabled ? 'enabled' : 'disabled'}.`,
                  )
                }
              >
                {user.disabled ? `Enable ${user.username}` : `Disable ${user.username}`}
              </button>
            </td>
          </tr>
        ))}
      </DataTable>
      <form id="create-user" onSubmit={create}>
        <fieldset>
          <legend>New user</legend>
          <UsernameField
            {...bind('username')}
            hint="3 to 64 letters, digits, or _ . @ -"
            autocomplete="off"
          />
          <PasswordField
            {...bind('password')}
            hint="12 to 256 characters"
            autocomplete="new-password"
          />
          <TextField {...bind('email')} label="Email (optional)" type="email" />
          <SelectField
            {...bind('role')}
            label="Role"
            choices={[
              ['member', 'member'],
              ['admin', 'admin'],
            ]}
          />
          <button type="submit">Create user</button>
        </fieldset>
      </form>
    </section>
  );
}

export function OwnSessionsSection(props: { onSignedOut: () => void }) {
  const [sessions, setSessions] = useState<OwnSession[]>([]);
  const [status, setStatus] = useState('');
  const load = async () => {
    const answer = await api<OwnSession[]>('GET', '/api/auth/sessions');
    if (answer.ok) setSessions(answer.body);
  };
  useEffect(() => void load(), []);
  const revoke = async (session: OwnSession) => {
    const answer = await api('DELETE', `/api/auth/sessions/${encodeURIComponent(session.id)}`);
    if (answer.ok && session.current) return props.onSignedOut();
    setStatus(answer.ok ? 'Session revoked.' : `Not revoked: ${describeProblem(answer)}`);
    await load();
  };
  return (
    <section aria-labelledby="sessions-title">
      <h2 id="sessions-title">Your sessions</h2>
      <Status message={status} />
      <DataTable
        id="own-sessions"
        label="Your sessions table"
        columns={['Signed in', 'Last seen', 'Browser', 'Address', 'Revoke']}
      >
        {sessions.map((session) => (
          <tr key={session.id}>
            <th scope="row">
              {when(session.createdAt)}
              {session.current ? <strong class="tag">this one</strong> : null}
            </th>
            <td>{when(session.lastSeenAt)}</td>
            <td>{session.userAgent ?? ''}</td>
            <td>{session.ip ?? ''}</td>
            <td>
              <button type="button" class="secondary" onClick={() => void revoke(session)}>
                {session.current ? 'Sign out here' : 'Revoke'}
              </button>
            </td>
          </tr>
        ))}
      </DataTable>
    </section>
  );
}
