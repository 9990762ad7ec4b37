import { createRequire } from 'node:module';
import type PinoPretty from 'pino-pretty';

/**
 * The field of the one line that carries the setup link (src/setup/setup-tokens.ts): on a
 * terminal it is shown framed on a line of its own, under its message.
 */
export const SETUP_URL_FIELD = 'setupUrl';

/**
 * Human-readable lines for a person at a terminal (development, stdout a TTY): pino-pretty's
 * formatting, run in this thread on each line rather than as a pino transport (a worker thread,
 * whose exit-time flush waits for a reader that may be gone). Undefined when pino-pretty is not
 * installed (a dev dependency, absent from a production install): the lines stay JSON then.
 */
export function terminalLines(columns?: number): ((line: string) => string) | undefined {
  let pinoPretty: typeof PinoPretty;
  try {
    pinoPretty = createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
  } catch {
    return undefined;
  }
  const color = pinoPretty.isColorSupported;
  const pretty = pinoPretty.prettyFactory({
    singleLine: true,
    colorize: color,
    ignore: `hostname,${SETUP_URL_FIELD}`,
  });
  return (line) => {
    const text = pretty(line);
    if (!line.includes(`"${SETUP_URL_FIELD}"`)) return text;
    const url = (JSON.parse(line) as Record<string, unknown>)[SETUP_URL_FIELD];
    return typeof url === 'string' ? text + framedLink(url, columns, color) : text;
  };
}

/**
 * A link nobody scrolls past: after a blank line, on a line of its own (nothing else on it to
 * copy by mistake) between two rules, bold where the terminal has colours.
 */
export function framedLink(url: string, columns: number | undefined, bold: boolean): string {
  // As long as the link, unless the terminal is narrower (then a rule would wrap).
  const rule = '─'.repeat(columns ? Math.max(Math.min(url.length, columns - 4), 10) : url.length);
  const shown = bold ? `\x1b[1m${url}\x1b[22m` : url;
  return `\n  ${rule}\n  ${shown}\n  ${rule}\n\n`;
}
