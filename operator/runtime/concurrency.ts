// How many ApiKeys the operator reconciles at once. A reconcile that issues a key is a handful of
// API round trips in a crash-safe order (operator/keys/lifecycle.ts), so one worker keeps at most one
// request in flight: the number of workers is the number of requests in flight. The default comes from
// bench/operator.ts (bench/README.md "Operator"), which measures the API server's own write ceiling at
// that concurrency in the same run.
export const DEFAULT_APIKEY_WORKERS = 32;
/** Above this the API server's max-in-flight limits (default 200 mutating) would start to push back. */
export const MAX_WORKERS = 128;
