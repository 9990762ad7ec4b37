import { Controller, HttpCode, Injectable, Module, Post, Req } from '@nestjs/common';
import type { Request } from 'express';

/**
 * Holds requests at a point the test chooses: `hold()` makes the next request that passes the
 * gate wait until the test releases it, so "a request in flight while its session ends" is an
 * order the test sets, not a race it hopes to win.
 */
@Injectable()
export class RequestGate {
  private held: { entered: () => void; released: Promise<void> } | undefined;

  hold(): { entered: Promise<void>; release: () => void } {
    let entered!: () => void;
    let release!: () => void;
    const enteredPromise = new Promise<void>((resolve) => (entered = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    this.held = { entered, released };
    return { entered: enteredPromise, release };
  }

  async pass(): Promise<void> {
    const held = this.held;
    if (!held) return;
    this.held = undefined;
    held.entered();
    await held.released;
  }
}

/** Routes only tests mount: a signed-in request that changes its own session after the gate. */
@Controller('test')
export class TestSessionController {
  constructor(private readonly gate: RequestGate) {}

  /** Signed in (the guards are global), so express-session saves the changed session at its end. */
  @Post('session-write')
  @HttpCode(200)
  async write(@Req() req: Request): Promise<{ ok: true }> {
    await this.gate.pass();
    (req.session as unknown as { testMark: number }).testMark = Date.now();
    return { ok: true };
  }
}

@Module({ controllers: [TestSessionController], providers: [RequestGate] })
export class TestRoutesModule {}
