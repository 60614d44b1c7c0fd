import type { ChatMessage } from '@dria/protocol'
import type { ChatHistoryItem } from 'node-llama-cpp'

/**
 * OpenAI messages as node-llama-cpp chat history, ending with the empty model turn the
 * answer is generated into. Developer messages are system messages; tool results, having
 * no slot in plain chat templates, are user turns.
 */
export function toChatHistory (messages: ChatMessage[]): ChatHistoryItem[] {
  const history: ChatHistoryItem[] = messages.map(message => {
    switch (message.role) {
      case 'system':
      case 'developer':
        return { type: 'system', text: message.content }
      case 'assistant':
        return { type: 'model', response: [message.content] }
      case 'user':
      case 'tool':
        return { type: 'user', text: message.content }
    }
  })
  history.push({ type: 'model', response: [] })
  return history
}
