// The in-flight count of an instance and its retirement: an instance taken out of the
// registry keeps serving the requests that hold a lease on it and is closed when the
// last one ends (undici's close, never destroy, so nothing in flight is cut).
export class Retirement {
  #inFlight = 0;
  #retired: Promise<void> | undefined;
  #onDrained: (() => void) | undefined;

  get inFlight(): number {
    return this.#inFlight;
  }

  begin(): void {
    this.#inFlight++;
  }

  end(): void {
    this.#inFlight--;
    if (this.#inFlight === 0 && this.#onDrained) this.#onDrained();
  }

  get retiring(): boolean {
    return this.#retired !== undefined;
  }

  /** Runs `close` once no request is in flight; the same promise on every call. */
  retire(close: () => Promise<void>): Promise<void> {
    this.#retired ??= new Promise<void>((resolve) => {
      this.#onDrained = () => {
        this.#onDrained = undefined;
        void close().then(resolve);
      };
      if (this.#inFlight === 0) this.#onDrained();
    });
    return this.#retired;
  }
}
