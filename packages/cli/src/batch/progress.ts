import cliProgress from 'cli-progress'

export interface ProgressState {
  done: number
  failed: number
  /** Models lines went to so far, with how many each. */
  models: ReadonlyMap<string, number>
}

/** What the user sees while a run goes: a bar on a terminal, nothing otherwise. */
export interface Progress {
  start(total: number): void
  update(state: ProgressState): void
  /** A line above the bar (or on stderr when there is none). */
  note(message: string): void
  stop(): void
}

function modelsText (models: ReadonlyMap<string, number>): string {
  return [...models].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([name, count]) => `${name} ${count}`).join(', ')
}

/**
 * A `cli-progress` bar on stderr: done/total, rate, ETA, failures and the models in use.
 * Off with `--json` or when stderr is not a terminal, where only notes are written.
 */
export function createProgress (init: { enabled: boolean, stream?: NodeJS.WriteStream }): Progress {
  const stream = init.stream ?? process.stderr
  if (!init.enabled) {
    return { start () {}, update () {}, note (message) { stream.write(`${message}\n`) }, stop () {} }
  }
  const bar = new cliProgress.SingleBar({
    stream,
    format: '{bar} {value}/{total} | {rate}/s | ETA {eta_formatted} | {failed} failed | {models}',
    barsize: 30,
    hideCursor: true,
    etaBuffer: 50,
    fps: 5
  }, cliProgress.Presets.shades_classic)
  let startedAt = 0
  let running = false
  return {
    start (total) {
      startedAt = performance.now()
      running = true
      bar.start(total, 0, { rate: '0.0', failed: 0, models: '' })
    },
    update ({ done, failed, models }) {
      const seconds = (performance.now() - startedAt) / 1000
      bar.update(done, { rate: (seconds > 0 ? done / seconds : 0).toFixed(1), failed, models: modelsText(models) })
    },
    note (message) {
      if (!running) {
        stream.write(`${message}\n`)
        return
      }
      // cli-progress redraws its line: clear it, write the note, let the next redraw restore the bar.
      stream.write(`\r\x1b[2K${message}\n`)
      bar.render()
    },
    stop () {
      if (!running) return
      running = false
      bar.stop()
    }
  }
}
