import request from 'supertest';
import type { Role } from '../../src/access/role.js';
import { UsersService } from '../../src/users/users.service.js';
import type { TestApp } from './test-app.js';

export const TEST_PASSWORD = 'correct horse battery staple';

/** A browser-like client: keeps its cookie, and sends the CSRF token on unsafe requests. */
export interface SignedInClient {
  agent: ReturnType<typeof request.agent>;
  csrfToken: string;
  userId: string;
  username: string;
  get(path: string): request.Test;
  post(path: string, body?: object): request.Test;
  patch(path: string, body?: object): request.Test;
  delete(path: string): request.Test;
}

/** Creates a user through the real UsersService (as setup or an admin would). */
export async function createUser(
  keel: TestApp,
  username: string,
  role: Role = 'member',
  password = TEST_PASSWORD,
): Promise<string> {
  const user = await keel.app.get(UsersService).create({ username, password, role });
  return user.id;
}

/** Signs in through POST /api/auth/login, exactly as a frontend does. */
export async function signIn(
  keel: TestApp,
  username: string,
  password = TEST_PASSWORD,
  userAgent = 'keel-tests',
): Promise<SignedInClient> {
  const agent = request.agent(keel.url);
  agent.set('User-Agent', userAgent);
  const response = await agent.post('/api/auth/login').send({ username, password });
  if (response.status !== 200) {
    throw new Error(
      `login as ${username} failed: ${response.status} ${JSON.stringify(response.body)}`,
    );
  }
  const csrfToken = response.body.csrfToken as string;
  return {
    agent,
    csrfToken,
    userId: response.body.user.id,
    username,
    get: (path) => agent.get(path),
    post: (path, body) =>
      agent
        .post(path)
        .set('X-CSRF-Token', csrfToken)
        .send(body ?? {}),
    patch: (path, body) =>
      agent
        .patch(path)
        .set('X-CSRF-Token', csrfToken)
        .send(body ?? {}),
    delete: (path) => agent.delete(path).set('X-CSRF-Token', csrfToken),
  };
}
