// A Kubernetes read answered 429 (or 503) is tried again, as client-go does and @kubernetes/client-node does
// not: the API server says so while it is throttling or while a resource's watch cache is still
// being filled (the first list of a CRD after the server started), with Retry-After in seconds.
// On a freshly started lab the diagnostics bundle lost IPAMConfig, BGPFilter and
// GlobalNetworkPolicy to it ("HTTP-Code: 429").

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface RetryPacing {
  /** Tries in all. */
  tries?: number;
  /** The wait when the answer has no Retry-After. */
  fallbackMs?: number;
  /** The longest wait, whatever Retry-After says. */
  maxWaitMs?: number;
  wait?: (ms: number) => Promise<void>;
}

/**
 * Runs `request`, again after each 429 or 503 (the server throttling, or "storage is
 * (re)initializing" just after a CRD is established): waiting Retry-After (1 s when absent, at
 * most 5 s by default), up to `tries` times in all (5 by default).
 */
export async function retryThrottled<T>(request: () => Promise<T>, pacing: RetryPacing = {}): Promise<T> {
  const { tries = 5, fallbackMs = 1000, maxWaitMs = 5000, wait = sleep } = pacing;
  for (let attempt = 1; ; attempt++) {
    try {
      return await request();
    } catch (error) {
      const e = error as { code?: unknown; headers?: Record<string, string> };
      if ((e.code !== 429 && e.code !== 503) || attempt >= tries) throw error;
      const after = Number(e.headers?.['retry-after'] ?? e.headers?.['Retry-After']);
      await wait(Math.min(Number.isFinite(after) && after > 0 ? after * 1000 : fallbackMs, maxWaitMs));
    }
  }
}
