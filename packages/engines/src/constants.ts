/** Generation budget when a request sets no `max_tokens`: bounds every task's work. */
export const DEFAULT_MAX_TOKENS = 256
