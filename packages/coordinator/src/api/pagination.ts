/** OpenAI's cursor page envelope. */
export function page<T extends { id: string }> (data: T[], hasMore: boolean): { object: 'list', data: T[], first_id: string | null, last_id: string | null, has_more: boolean } {
  return {
    object: 'list',
    data,
    first_id: data[0]?.id ?? null,
    last_id: data[data.length - 1]?.id ?? null,
    has_more: hasMore
  }
}
