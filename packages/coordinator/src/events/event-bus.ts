import type { CoordinatorEvent } from './types.js'

export type EventListener = (event: CoordinatorEvent) => void

/** In-process publish/subscribe between the coordinator's modules. */
export interface EventBus {
  /** Hands `event` to every listener before returning; a throwing listener does not stop the others. */
  publish(event: CoordinatorEvent): void
  /** Returns the unsubscribe function. */
  subscribe(listener: EventListener): () => void
}

export function createEventBus (components: { onListenerError?: (err: unknown) => void } = {}): EventBus {
  const listeners = new Set<EventListener>()
  return {
    publish (event) {
      for (const listener of listeners) {
        try {
          listener(event)
        } catch (err) {
          components.onListenerError?.(err)
        }
      }
    },
    subscribe (listener) {
      listeners.add(listener)
      return () => { listeners.delete(listener) }
    }
  }
}
