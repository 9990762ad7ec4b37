import { Injectable } from '@nestjs/common';

/**
 * Resolves when the dependency answers; throws or rejects (with a message an operator can act
 * on) when it does not. `signal` aborts when the probe's timeout passes.
 */
export type ReadinessCheck = (options: { signal: AbortSignal }) => Promise<void>;

export interface RegisteredReadinessCheck {
  readonly name: string;
  readonly check: ReadinessCheck;
  readonly timeoutMs: number;
}

/** Per-check limit; the Kubernetes readiness probe's `timeoutSeconds` must stay above it. */
export const DEFAULT_READINESS_TIMEOUT_MS = 2000;

/** Names the readiness probe uses itself. */
const RESERVED_NAMES = new Set(['phase']);
const NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

/**
 * The dependencies `/health/ready` checks besides the phase. Any module contributes one, e.g.
 * the session cache in its `onModuleInit`:
 *
 * ```ts
 * constructor(readiness: ReadinessRegistry) {}
 * onModuleInit() {
 *   this.readiness.register('sessionCache', () => this.backend.ping());
 * }
 * ```
 *
 * Every check runs (in parallel) on every readiness probe, so keep it to one cheap round trip.
 * The health module registers `database`.
 */
@Injectable()
export class ReadinessRegistry {
  private entries: readonly RegisteredReadinessCheck[] = Object.freeze([]);

  /** Adds a check named `name` (shown in the probe's body); returns a function removing it. */
  register(name: string, check: ReadinessCheck, options: { timeoutMs?: number } = {}): () => void {
    if (!NAME_PATTERN.test(name) || RESERVED_NAMES.has(name)) {
      throw new Error(`Readiness check name "${name}" is reserved or not a simple identifier`);
    }
    if (this.entries.some((entry) => entry.name === name)) {
      throw new Error(`A readiness check named "${name}" is already registered`);
    }
    const entry = Object.freeze({
      name,
      check,
      timeoutMs: options.timeoutMs ?? DEFAULT_READINESS_TIMEOUT_MS,
    });
    // Replaced whole: a probe iterating the previous list is not disturbed.
    this.entries = Object.freeze([...this.entries, entry]);
    return () => {
      this.entries = Object.freeze(this.entries.filter((existing) => existing !== entry));
    };
  }

  /** The registered checks, in registration order. */
  checks(): readonly RegisteredReadinessCheck[] {
    return this.entries;
  }
}
