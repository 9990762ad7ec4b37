// Load generation with autocannon, rotating through a list of session cookies.
import autocannon from 'autocannon';

/**
 * Runs GET `path` with `connections` concurrent keep-alive connections, each request carrying
 * the next cookie of `cookies`. Resolves to {requests, rps, p50, p99, non2xx, errors}.
 * `duration` in seconds; `until` (a promise) stops it early when it settles.
 */
export function load(
  url,
  {
    path = '/api/auth/me',
    cookies = [],
    connections = 50,
    duration = 10,
    until,
    amount,
    overallRate,
  } = {},
) {
  let next = 0;
  const instance = autocannon({
    url: `${url}${path}`,
    connections,
    ...(amount ? { amount } : { duration }),
    ...(overallRate ? { overallRate } : {}),
    requests: [
      {
        setupRequest(request) {
          if (cookies.length > 0) {
            request.headers = { ...request.headers, cookie: cookies[next++ % cookies.length] };
          }
          return request;
        },
      },
    ],
  });
  until?.finally(() => instance.stop());
  return new Promise((resolve, reject) => {
    instance.on('done', (result) =>
      resolve({
        requests: result.requests.total,
        rps: Math.round(result.requests.average),
        p50: result.latency.p50,
        p99: result.latency.p99,
        non2xx: result.non2xx,
        errors: result.errors + result.timeouts,
      }),
    );
    instance.on('error', reject);
  });
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}
