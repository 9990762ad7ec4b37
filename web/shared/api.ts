// The browser's side of Keel's HTTP API (docs/api.md): JSON in and out, the session cookie sent
// by the browser itself, and the CSRF token every unsafe request with a session must carry.
export type * from './api-types';

/** Every error answer's one shape. */
export interface Problem {
  statusCode: number;
  code: string;
  message: string;
  fields?: { field: string; message: string }[];
}

export interface Answer<T> {
  status: number;
  ok: boolean;
  body: T;
  headers: Headers;
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
let csrfToken: string | undefined;

/** Keeps the token an answer that starts a session carries (login, setup). */
export function rememberCsrfToken(token: string | undefined): void {
  csrfToken = token;
}

async function currentCsrfToken(): Promise<string> {
  if (!csrfToken) {
    const answer = await fetch('/api/auth/csrf', { credentials: 'same-origin' });
    if (!answer.ok) throw new Error(`the server answered ${answer.status}`);
    csrfToken = ((await answer.json()) as { csrfToken: string }).csrfToken;
  }
  return csrfToken;
}

/**
 * One API call. Unsafe methods send `X-CSRF-Token` (fetched once from `/api/auth/csrf`, and
 * taken again after a 403 `csrf_failed`, as when the session changed underneath).
 */
export async function api<T>(
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string> } = {},
): Promise<Answer<T>> {
  const send = async (): Promise<Response> => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    if (UNSAFE.has(method)) headers['X-CSRF-Token'] = await currentCsrfToken();
    return fetch(path, {
      method,
      credentials: 'same-origin',
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
  };
  let response = await send();
  let answer = await read<T>(response);
  if (answer.status === 403 && UNSAFE.has(method) && problemOf(answer)?.code === 'csrf_failed') {
    csrfToken = undefined;
    response = await send();
    answer = await read<T>(response);
  }
  return answer;
}

/**
 * The answer's JSON. A body that is not JSON (a proxy's HTML error page, a truncated answer)
 * is an error with its status, never a throw that would leave a form stuck.
 */
async function read<T>(response: Response): Promise<Answer<T>> {
  const text = await response.text();
  const { status, headers } = response;
  try {
    return { status, ok: response.ok, body: (text ? JSON.parse(text) : undefined) as T, headers };
  } catch {
    const problem: Problem = {
      statusCode: status,
      code: 'unexpected_answer',
      message: `The server answered ${status}${response.statusText ? ` ${response.statusText}` : ''} without JSON (a proxy in between may have failed); try again.`,
    };
    return { status, ok: false, body: problem as T, headers };
  }
}

/** The answer's error, if it is one. */
export function problemOf(answer: Answer<unknown>): Problem | undefined {
  return answer.ok ? undefined : (answer.body as Problem);
}

/** A message for a failed call, for a status region. */
export function describeProblem(answer: Answer<unknown>): string {
  const problem = problemOf(answer);
  if (!problem) return '';
  const fields = problem.fields?.map((field) => `${field.field}: ${field.message}`) ?? [];
  return [problem.message, ...fields].join(' ');
}
