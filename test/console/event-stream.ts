// Reads a server-sent event stream (GET /api/runtime/events) the way EventSource does, for
// tests that follow one without a browser.

export interface ServerEvent {
  event: string;
  data: string;
}

export class EventStreamReader {
  readonly events: ServerEvent[] = [];
  /** Resolves when the server closes the stream. */
  readonly closed: Promise<void>;
  private waiters: (() => void)[] = [];

  private constructor(
    readonly response: Response,
    private readonly abort: AbortController,
  ) {
    this.closed = this.read();
  }

  static async open(url: string, cookie?: string): Promise<EventStreamReader> {
    const abort = new AbortController();
    const response = await fetch(`${url}/api/runtime/events`, {
      headers: cookie ? { cookie } : {},
      signal: abort.signal,
    });
    return new EventStreamReader(response, abort);
  }

  /** The first event named `name`, waiting up to `timeoutMs` for it. */
  async next(name: string, timeoutMs = 5000): Promise<ServerEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find((event) => event.event === name);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${name} event within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  cancel(): void {
    this.abort.abort();
  }

  private async read(): Promise<void> {
    if (!this.response.body) return;
    const reader = this.response.body.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        text += value;
        const blocks = text.split('\n\n');
        text = blocks.pop() ?? '';
        for (const block of blocks) {
          const fields = new Map<string, string>();
          for (const line of block.split('\n')) {
            const colon = line.indexOf(':');
            if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1).trimStart());
          }
          if (fields.has('data')) {
            this.events.push({
              event: fields.get('event') ?? 'message',
              data: fields.get('data')!,
            });
          }
        }
        for (const wake of this.waiters.splice(0)) wake();
      }
    } catch {
      // Cancelled by the test.
    } finally {
      for (const wake of this.waiters.splice(0)) wake();
    }
  }
}
