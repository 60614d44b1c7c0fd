import '@dria/protocol/polyfill'
import { runCoordinatorCli } from './cli.js'

await runCoordinatorCli(process.argv)
