import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

const COLORS = [
  '#2563eb',
  '#16a34a',
  '#dc2626',
  '#d97706',
  '#7c3aed',
  '#0891b2',
  '#db2777',
  '#65a30d',
];

/** A rolling time-series chart: push a point per tick, the last `keep` points are shown. */
export class LiveChart {
  readonly #plot: uPlot;
  readonly #data: (number | null)[][];
  readonly #keep: number;
  readonly #resize: ResizeObserver;

  constructor(el: HTMLElement, title: string, series: string[], unit: string, keep = 120) {
    this.#keep = keep;
    this.#data = [[], ...series.map(() => [])];
    this.#plot = new uPlot(
      {
        title,
        width: Math.max(300, el.clientWidth || 480),
        height: 200,
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
        axes: [{}, { label: unit, size: 60 }],
        series: [
          {},
          ...series.map((label, i) => ({
            label,
            stroke: COLORS[i % COLORS.length],
            width: 2,
            spanGaps: true,
          })),
        ],
      },
      this.#data as uPlot.AlignedData,
      el,
    );
    this.#resize = new ResizeObserver(() => {
      this.#plot.setSize({ width: Math.max(300, el.clientWidth), height: 200 });
    });
    this.#resize.observe(el);
  }

  push(at: number, values: (number | null)[]): void {
    this.#data[0]?.push(at / 1000);
    for (const [i, v] of values.entries()) this.#data[i + 1]?.push(v);
    for (const column of this.#data) if (column.length > this.#keep) column.shift();
    this.#plot.setData(this.#data as uPlot.AlignedData);
  }

  destroy(): void {
    this.#resize.disconnect();
    this.#plot.destroy();
  }
}
