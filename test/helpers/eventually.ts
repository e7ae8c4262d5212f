/**
 * Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`.
 * The interval grows from `intervalMs` to ten times that: a check that queries the platform
 * under test (often one embedded database connection) should not crowd out the work it waits
 * for when the machine is busy. The default timeout allows for a loaded CI machine.
 */
export async function eventually<T>(
  check: () => Promise<T | undefined> | T | undefined,
  { timeoutMs = 20_000, intervalMs = 25, message = 'condition' } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  let wait = intervalMs;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, wait));
    wait = Math.min(wait * 1.5, intervalMs * 10);
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${message}${last ? `: ${String(last)}` : ''}`,
  );
}
