import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { ErrorCode } from './error-codes.js';

/** What was refused, for the log: the id the answer carried finds this line. */
export interface RefusedRequest {
  requestId: string;
  statusCode: number;
  code: ErrorCode;
  /** Node's parser error code, e.g. `HPE_HEADER_OVERFLOW`. */
  cause: string | undefined;
  remoteAddress: string | undefined;
}

export interface ClientErrorOptions {
  /**
   * Headers every answer carries whatever the request (the security headers): these answers
   * get them too, since no middleware runs for them.
   */
  headers?: readonly (readonly [string, string])[];
  /** Told of each refusal after its answer is written (to log it). */
  onRefused?: (refused: RefusedRequest) => void;
}

/**
 * Requests Node's HTTP parser refuses before any middleware runs (headers over 16 kB, broken
 * framing) get the contract's error shape too, instead of Node's bare status line, and what
 * every other answer carries: an `X-Request-Id` (new: the request was never read, so none it
 * sent is trusted) and the security headers.
 */
export function answerClientErrors(server: Server, options: ClientErrorOptions = {}): void {
  const fixedHeaders = (options.headers ?? []).map(([name, value]) => `${name}: ${value}\r\n`);
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
    const requestId = randomUUID();
    const body = JSON.stringify({ statusCode: status, code, message });
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nX-Request-Id: ${requestId}\r\n` +
        `${fixedHeaders.join('')}Connection: close\r\n\r\n${body}`,
    );
    options.onRefused?.({
      requestId,
      statusCode: status,
      code,
      cause: error.code,
      remoteAddress: (socket as Duplex & { remoteAddress?: string }).remoteAddress,
    });
  });
}
