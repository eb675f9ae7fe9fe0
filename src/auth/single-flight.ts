// Concurrent callers asking for the same key share one piece of work: twenty requests
// arriving together with one uncached token make one call to the auth service.
// The key is forgotten as soon as the work settles, success or failure, so a failure
// is never replayed to later callers (they try again, subject to the breaker).

export class SingleFlight<V> {
  readonly #inFlight = new Map<string, Promise<V>>();

  run(key: string, work: () => Promise<V>): Promise<V> {
    const pending = this.#inFlight.get(key);
    if (pending !== undefined) return pending;
    const started = work().finally(() => {
      this.#inFlight.delete(key);
    });
    this.#inFlight.set(key, started);
    return started;
  }

  get size(): number {
    return this.#inFlight.size;
  }

  /** Resolves once every piece of work started so far has settled. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#inFlight.values()]);
  }
}
