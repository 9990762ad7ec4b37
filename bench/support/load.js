// Load generation with autocannon, rotating through a list of session cookies.
import autocannon from 'autocannon';

/** How long after `during` settles the load goes on (see load()). */
const STOP_GRACE_MS = 250;

/**
 * Runs GET `path` with `connections` concurrent keep-alive connections, each request carrying
 * the next cookie of `cookies`. Resolves to {requests, rps, p50, p99, non2xx, errors}.
 * `duration` in seconds.
 *
 * `during`: a promise of a window `{ from, to }` (`performance.now()` times in this process).
 * The load stops once it settles, and the answer describes only the requests in flight at some
 * moment of that window (sent before `to`, answered after `from`), `rps` being their number
 * over the window's length; `non2xx` and `errors` count every failed request from `from` on,
 * the window's and those after it. autocannon stops on its next whole second only, so its own
 * figures would also count up to a second of requests after the window. If `during` rejects,
 * so does the load.
 */
export function load(
  url,
  {
    path = '/api/auth/me',
    cookies = [],
    connections = 50,
    duration = 10,
    during,
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
  const answers = during ? recordAnswers(instance) : undefined;
  // A moment's grace, so that autocannon's next tick does not cut off requests still in
  // flight at the window's end: they are the slowest, the ones a p99 is made of.
  const stop = () => setTimeout(() => instance.stop(), STOP_GRACE_MS);
  during?.then(stop, stop);
  return new Promise((resolve, reject) => {
    instance.on('done', (result) => {
      if (answers) {
        during.then((window) => resolve(withinWindow(answers, window)), reject);
        return;
      }
      resolve({
        requests: result.requests.total,
        rps: Math.round(result.requests.average),
        p50: result.latency.p50,
        p99: result.latency.p99,
        non2xx: result.non2xx,
        // autocannon counts a timeout among its errors too.
        errors: result.errors,
      });
    });
    instance.on('error', reject);
  });
}

/** Every answer as [answered at, latency ms, status], and every failed request's time. */
function recordAnswers(instance) {
  const answers = { responses: [], errors: [] };
  instance.on('response', (_client, status, _bytes, latency) =>
    answers.responses.push([performance.now(), latency, status]),
  );
  instance.on('reqError', () => answers.errors.push(performance.now()));
  return answers;
}

function withinWindow({ responses, errors }, { from, to }) {
  const inWindow = responses.filter(([at, latency]) => at >= from && at - latency <= to);
  const ok = inWindow
    .filter(([, , status]) => isSuccess(status))
    .map(([, latency]) => latency)
    .sort((a, b) => a - b);
  // Whole milliseconds cut down, as autocannon's histogram keeps them, so that a p99 from here
  // compares with one from a run without a window. No answer in the window: NaN, not 0.
  const percentile = (q) => (ok.length === 0 ? NaN : Math.floor(ok[Math.ceil(q * ok.length) - 1]));
  return {
    requests: inWindow.length,
    rps: Math.round(inWindow.length / ((to - from) / 1000)),
    p50: percentile(0.5),
    p99: percentile(0.99),
    non2xx: responses.filter(([at, , status]) => at >= from && !isSuccess(status)).length,
    errors: errors.filter((at) => at >= from).length,
  };
}

function isSuccess(status) {
  return status >= 200 && status < 300;
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}
