// Runs once before the suites. PostgreSQL and Redis suites run when DATABASE_URL / REDIS_URL
// are set; without them they are skipped with one line each, unless CI=true, where a missing
// or unreachable service fails the run (CI must run everything).
import net from 'node:net';

function reachable(url) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname || '127.0.0.1', port: Number(port) || undefined });
    socket.setTimeout(2000);
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
  });
}

export default async function globalSetup() {
  const ci = process.env.CI === 'true';
  const services = [
    ['DATABASE_URL', 'PostgreSQL', 5432],
    ['REDIS_URL', 'Redis', 6379],
  ];
  for (const [variable, name] of services) {
    const url = process.env[variable];
    if (!url) {
      if (ci)
        throw new Error(`CI=true but ${variable} is not set: the ${name} suites must run on CI`);
      process.stdout.write(`\n${variable} not set: ${name} suites are skipped\n`);
      continue;
    }
    if (!(await reachable(url))) {
      throw new Error(`${variable} is set but ${name} does not answer at ${new URL(url).host}`);
    }
  }
}
