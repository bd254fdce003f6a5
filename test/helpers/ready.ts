/**
 * Waits until a freshly started service answers GET /readyz with 200 (its Redis probe client connects in the
 * background, which on a loaded machine can take a while). Tests that assert on /readyz's answer call this first,
 * so they test the probe, not start-up latency. Throws with the last answer after `timeoutMs`.
 */
export async function untilReady(base: string, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < end) {
    try {
      const r = await fetch(`${base}/readyz`);
      if (r.status === 200) return;
      last = `HTTP ${r.status}: ${await r.text()}`;
    } catch (e) {
      last = e instanceof Error ? e.message : String(e);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${base}/readyz did not answer 200 within ${timeoutMs} ms (last: ${last})`);
}
