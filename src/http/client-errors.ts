import type { Server } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { ErrorCode } from './error-codes.js';

/**
 * Requests Node's HTTP parser refuses before any middleware runs (headers over 16 kB, broken
 * framing) get the contract's error shape too, instead of Node's bare status line.
 */
export function answerClientErrors(server: Server): void {
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const [status, code, message] =
      error.code === 'HPE_HEADER_OVERFLOW'
        ? [
            431,
            ErrorCode.HeadersTooLarge,
            'Request headers (cookies included) are larger than 16 kB',
          ]
        : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, ErrorCode.RequestTimeout, 'The request was not received in time']
          : [400, ErrorCode.MalformedRequest, 'The request is not valid HTTP'];
    const body = JSON.stringify({ statusCode: status, code, message });
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}
