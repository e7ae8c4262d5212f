/**
 * The one place the platform's parts register how they stop, as each starts: stopping runs
 * them in reverse, the last started first, so every part stops before what it depends on
 * (the API before the broker, the broker before the database).
 */
export class Stops {
  readonly #parts: { part: string; stop: () => Promise<unknown> }[] = [];

  /** Registers how to stop `part`, which has just started (or been made, to start later). */
  add(part: string, stop: () => Promise<unknown>): void {
    this.#parts.push({ part, stop });
  }

  /**
   * Stops every registered part, last first, each once. One that fails does not keep the
   * others running: the first failure is thrown once all were stopped.
   */
  async stopAll(): Promise<void> {
    let failure: unknown;
    for (const { part, stop } of this.#parts.splice(0).reverse()) {
      try {
        await stop();
      } catch (error) {
        failure ??= new Error(`stopping ${part} failed: ${String(error)}`, { cause: error });
      }
    }
    if (failure !== undefined) throw failure;
  }
}
