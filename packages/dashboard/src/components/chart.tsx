import { useEffect, useRef } from 'preact/hooks'
import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'

export interface Series { label: string, color: string }

/** A time-series line chart (uPlot) that follows its container's width. */
export function TimeChart (props: { title: string, series: Series[], data: uPlot.AlignedData, height?: number }) {
  const holder = useRef<HTMLDivElement>(null)
  const chart = useRef<uPlot | null>(null)

  useEffect(() => {
    const element = holder.current
    if (element === null) return
    const plot = new uPlot({
      width: Math.max(200, element.clientWidth),
      height: props.height ?? 200,
      series: [{}, ...props.series.map(s => ({ label: s.label, stroke: s.color, width: 2, points: { show: false } }))],
      axes: [{}, { size: 60 }],
      legend: { live: false }
    }, props.data, element)
    chart.current = plot
    const resize = new ResizeObserver(() => { plot.setSize({ width: Math.max(200, element.clientWidth), height: props.height ?? 200 }) })
    resize.observe(element)
    return () => {
      resize.disconnect()
      plot.destroy()
      chart.current = null
    }
  }, [props.series.map(s => s.label).join()])

  useEffect(() => { chart.current?.setData(props.data) }, [props.data])

  return (
    <figure class="chart">
      <figcaption>{props.title}</figcaption>
      <div ref={holder} />
    </figure>
  )
}
