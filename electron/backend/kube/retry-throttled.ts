// A Kubernetes read answered 429 is tried again, as client-go does and @kubernetes/client-node does
// not: the API server says so while it is throttling or while a resource's watch cache is still
// being filled (the first list of a CRD after the server started), with Retry-After in seconds.
// On a freshly started lab the diagnostics bundle lost IPAMConfig, BGPFilter and
// GlobalNetworkPolicy to it ("HTTP-Code: 429").

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Runs `request`, again after each 429 (waiting Retry-After, 1 s when absent, at most 5 s) up to `tries` times in all. */
export async function retryThrottled<T>(request: () => Promise<T>, tries = 5, wait: (ms: number) => Promise<void> = sleep): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await request();
    } catch (error) {
      const e = error as { code?: unknown; headers?: Record<string, string> };
      if (e.code !== 429 || attempt >= tries) throw error;
      const after = Number(e.headers?.['retry-after'] ?? e.headers?.['Retry-After']);
      await wait(Math.min(Number.isFinite(after) && after > 0 ? after * 1000 : 1000, 5000));
    }
  }
}
