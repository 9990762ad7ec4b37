import { acceptsGzip } from './web-assets.js';

describe('acceptsGzip (Accept-Encoding, RFC 9110 12.5.3)', () => {
  it.each([
    ['gzip', true],
    ['gzip, deflate, br', true],
    ['br;q=1.0, GZIP;q=0.5', true],
    ['x-gzip', true],
    ['*', true],
    ['gzip;q=0', false],
    ['gzip; q=0.000, br', false],
    ['*;q=0', false],
    ['*, gzip;q=0', false],
    ['identity', false],
    ['deflate, br', false],
    ['notgzip', false],
    ['', false],
    [undefined, false],
  ])('%p: %p', (header, expected) => {
    expect(acceptsGzip(header)).toBe(expected);
  });
});
