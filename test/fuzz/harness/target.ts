import type fc from 'fast-check';

/**
 * A fuzz target: a generator of JSON-serialisable inputs and a check that throws when the code under test breaks
 * its contract (an untyped exception, a wrong result). Inputs being plain JSON is what lets a failing case be
 * printed, stored under test/fixtures/fuzz/<name>/ and replayed byte for byte.
 */
export interface FuzzTarget<I> {
  /** Folder name of its regression fixtures. */
  readonly name: string;
  /** Whether `check` returns a promise. */
  readonly async?: boolean;
  arbitrary(): fc.Arbitrary<I>;
  check(input: I): void | Promise<void>;
  /** Runs once in the worker before any case (temp folders, servers). */
  setup?(): Promise<void> | void;
  teardown?(): Promise<void> | void;
  /** Counters of outcomes (parsed, refused by code ...), so a test can see the generator reaches both sides. */
  stats?(): Record<string, number>;
}

/** A stored crasher: why it was kept and the input that triggered it. */
export interface FuzzFixture {
  readonly note: string;
  readonly input: unknown;
}

/** Counts outcomes by label; one instance per target module. */
export class Tally {
  private readonly counts = new Map<string, number>();

  add(label: string): void {
    this.counts.set(label, (this.counts.get(label) ?? 0) + 1);
  }

  toJSON(): Record<string, number> {
    return Object.fromEntries([...this.counts.entries()].sort((a, b) => b[1] - a[1]));
  }
}
