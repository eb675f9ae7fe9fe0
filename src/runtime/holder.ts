// Holds the runtime snapshot in force and counts who still uses the old ones.
//
// A request pins the current snapshot at ingress (pin) and keeps that object to its
// end, when it releases it (release): a reload swaps snapshots with one assignment and
// never changes a request's rules half-way. What a reload replaced (an authenticator,
// a rate-limit store, the instances of a removed service) is retired only once the
// last request pinned to the old snapshot has released it, so no request ever meets a
// closed component. Pinning costs an increment and a comparison: no allocation.
import type { Runtime } from './build.ts';

interface Retiring {
  pins: number;
  readonly retire: () => void;
}

export class RuntimeHolder {
  #current: Runtime | undefined;
  /** Pins on #current; moved into #retiring when it is replaced. */
  #pins = 0;
  /** Replaced snapshots that still have requests pinned to them. */
  readonly #retiring = new Map<Runtime, Retiring>();
  constructor(initial?: Runtime) {
    this.#current = initial;
  }

  /** The snapshot in force, for a look that does not outlive the current tick. */
  get current(): Runtime {
    return this.#current!;
  }

  /** Snapshots replaced but still pinned by requests in flight. */
  get retiringCount(): number {
    return this.#retiring.size;
  }

  /** The snapshot in force, counted until release(): for a request, from ingress to its end. */
  pin(): Runtime {
    this.#pins++;
    return this.#current!;
  }

  /** Ends a pin taken by pin(); exactly once per pin. */
  release(runtime: Runtime): void {
    if (runtime === this.#current) {
      this.#pins--;
      return;
    }
    const old = this.#retiring.get(runtime);
    if (old === undefined) return;
    old.pins--;
    if (old.pins === 0) this.#retireDrained();
  }

  /**
   * Puts `next` in force with one assignment. `retirePrevious` closes what `next`
   * replaced; it runs once no request holds the snapshot in force until now.
   */
  swap(next: Runtime, retirePrevious: () => void = () => {}): void {
    const previous = this.#current;
    const pins = this.#pins;
    this.#current = next;
    this.#pins = 0;
    if (previous === undefined) {
      retirePrevious();
      return;
    }
    this.#retiring.set(previous, { pins, retire: retirePrevious });
    this.#retireDrained();
  }

  /**
   * Retires, oldest first, every replaced snapshot with no pins left, stopping at the
   * first one still pinned: a component the newest reload replaced may have been
   * shared by all the older snapshots, so it waits for every one of them.
   */
  #retireDrained(): void {
    for (const [runtime, old] of this.#retiring) {
      if (old.pins > 0) return;
      this.#retiring.delete(runtime);
      old.retire();
    }
  }

  /** Runs every pending retirement now (shutdown: the listeners are closed and drained). */
  retireAll(): void {
    for (const [runtime, old] of this.#retiring) {
      this.#retiring.delete(runtime);
      old.retire();
    }
  }
}
