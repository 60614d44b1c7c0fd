export { createTaskServer } from './server.js'
export type { TaskServer, TaskServerComponents, TaskServerInit, TaskHandler, TaskContext } from './server.js'
export { createTaskClient } from './client.js'
export type { TaskClient, TaskClientComponents, TaskClientInit } from './client.js'
