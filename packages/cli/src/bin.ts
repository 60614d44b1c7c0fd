import '@dria/protocol/polyfill'
import { runCli } from './cli.js'

await runCli(process.argv)
