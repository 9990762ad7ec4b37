// The ceiling: node:http answering the same `me` bytes with no framework and no session.
import http from 'node:http';

const body = JSON.stringify({
  user: {
    id: 'c0ffee00-0000-4000-8000-000000000000',
    username: 'bench-user',
    email: null,
    role: 'member',
  },
});
const server = http.createServer((req, res) => {
  res.writeHead(200, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`BENCH_READY ${JSON.stringify({ port: server.address().port })}\n`);
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
