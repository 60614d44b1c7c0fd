/** Distinct model label values per metric family; later models are counted as OTHER_LABEL. */
export const MAX_MODEL_LABELS = 64
export const OTHER_LABEL = 'other'
/** Task round trips: from tiny models (ms) to long generations (minutes). */
export const TASK_SECONDS_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]
/** Route label of requests that matched no route (their paths are unbounded). */
export const UNMATCHED_ROUTE = 'unmatched'
