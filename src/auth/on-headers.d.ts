// on-headers (the hook express-session itself uses) ships no types.
declare module 'on-headers' {
  import type { ServerResponse } from 'node:http';
  /** Runs `listener` once, just before `res` writes its headers; the last registered runs first. */
  export default function onHeaders(
    res: ServerResponse,
    listener: (this: ServerResponse) => void,
  ): void;
}
