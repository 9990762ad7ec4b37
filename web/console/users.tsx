import { useEffect, useState } from 'preact/hooks';
import { api, describeProblem, type OwnSession, type PublicUser } from '../shared/api';
import {
  DataTable,
  PasswordField,
  SelectField,
  Status,
  TextField,
  UsernameField,
} from '../shared/field';

type User = PublicUser;

const when = (at: string | null) => (at ? new Date(at).toLocaleString() : 'unknown');

/**
 * Users, with their role and access. A role is chosen in its select and applied with its own
 * button: a select that saved on `change` would demote an admin with one arrow key (Chrome
 * changes a focused closed select's value on Up/Down), and a demotion ends that user's sessions.
 * Taking away your own admin role or access asks first: it signs you out of the console.
 */
export function UsersSection(props: { myId: string; onSignedOut: () => void }) {
  const [users, setUsers] = useState<User[]>([]);
  const [status, setStatus] = useState('');
  /** Roles chosen but not applied yet, by user id. */
  const [roles, setRoles] = useState<Record<string, string>>({});
  const [draft, setDraft] = useState({ username: '', password: '', email: '', role: 'member' });
  const load = async () => {
    const answer = await api<User[]>('GET', '/api/users');
    if (answer.ok) setUsers(answer.body);
    else setStatus(`Could not list the users: ${describeProblem(answer)}`);
  };
  useEffect(() => void load(), []);

  const change = async (
    user: User,
    patch: { role?: string; disabled?: boolean },
    done: string,
  ): Promise<boolean> => {
    const losesAccess = patch.role === 'member' || patch.disabled === true;
    if (
      user.id === props.myId &&
      losesAccess &&
      !window.confirm(
        patch.role
          ? 'Make yourself a member? You lose the console and every session of yours ends, this one included.'
          : 'Disable your own account? Every session of yours ends, this one included.',
      )
    ) {
      setStatus(`${user.username} unchanged.`);
      return false;
    }
    const answer = await api('PATCH', `/api/users/${encodeURIComponent(user.id)}`, { body: patch });
    if (answer.ok && user.id === props.myId && losesAccess) {
      props.onSignedOut();
      return true;
    }
    setStatus(answer.ok ? done : `${user.username} unchanged: ${describeProblem(answer)}`);
    await load();
    return answer.ok;
  };
  const applyRole = async (user: User) => {
    const role = roles[user.id];
    if (!role || role === user.role) return;
    if (await change(user, { role }, `${user.username} is now ${role}.`)) {
      setRoles(({ [user.id]: _applied, ...others }) => others);
    }
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
                id={`role-${user.id}`}
                aria-label={`Role of ${user.username}`}
                value={roles[user.id] ?? user.role}
                onChange={(e) => {
                  const role = e.currentTarget.value;
                  setRoles((current) => ({ ...current, [user.id]: role }));
                }}
              >
                <option value="admin">admin</option>
                <option value="member">member</option>
              </select>{' '}
              <button
                type="button"
                class="secondary"
                disabled={(roles[user.id] ?? user.role) === user.role}
                aria-label={`Apply the role of ${user.username}`}
                onClick={() => void applyRole(user)}
              >
                Apply
              </button>
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
