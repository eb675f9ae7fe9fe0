// Holds the runtime snapshot in force. A request reads `current` once at ingress and
// keeps that object to its end (the pin), so a reload swaps snapshots with one
// assignment and never changes a request's rules half-way.
import type { Runtime } from './build.ts';

export class RuntimeHolder {
  #current: Runtime;

  constructor(initial: Runtime) {
    this.#current = initial;
  }

  get current(): Runtime {
    return this.#current;
  }

  swap(next: Runtime): Runtime {
    const previous = this.#current;
    this.#current = next;
    return previous;
  }
}
