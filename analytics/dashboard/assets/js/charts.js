// Time-series charts over uPlot (vendor/uplot, loaded as the global
// uPlot by index.html).

import { h } from './dom.js';

export const colors = {
  blue: '#2f6fde',
  green: '#2e9e5b',
  orange: '#d98a1c',
  red: '#d2463c',
  purple: '#7b52c7',
  grey: '#8a93a3',
};

// Charts keeps the uPlot instances of one rendered page, to size them
// with the window and free them when the page goes.
export class Charts {
  constructor() {
    this.plots = [];
    this.onResize = () => this.resize();
    window.addEventListener('resize', this.onResize);
  }

  // line returns a card with a chart of lines over time: x is Unix
  // seconds, lines [{label, values, color, fill}], fmt formats the y
  // axis, log makes it logarithmic. width is the card's expected width
  // (the chart is drawn before the card is in the document).
  line({ title, testid, x, lines, fmt, width, log }) {
    const box = h('div', { class: 'chart', 'data-testid': testid });
    const card = h('section', { class: 'card', 'aria-label': title }, h('h2', { text: title }), box);
    if (!x.length) {
      box.appendChild(h('p', { class: 'empty', text: 'No data in this range.' }));
      return card;
    }
    const values = lines.map((l) => l.values);
    // On a log scale, ticks, lines and labels at the powers of ten only.
    const decades = log ? { filter: (u, splits) => splits.map((v) => (isPow10(v) ? v : null)) } : {};
    const opts = {
      width: Math.max(280, width - 2 * 15),
      height: 170,
      legend: { show: true, live: true },
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: { time: true },
        // Latencies spread over orders of magnitude: a log scale keeps the
        // median readable beside the timeouts.
        y: log ? { distr: 3 } : { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] },
      },
      axes: [
        { stroke: '#5d6675', grid: { stroke: '#eef0f3' }, ticks: { stroke: '#e2e6ec' } },
        {
          stroke: '#5d6675', size: 70,
          grid: { stroke: '#eef0f3', ...decades },
          ticks: { stroke: '#e2e6ec', ...decades },
          ...decades,
          values: (u, vals) => vals.map((v) => (v === null || v === undefined ? '' : fmt(v))),
        },
      ],
      series: [
        { label: 'Time' },
        ...lines.map((l) => ({
          label: l.label,
          stroke: l.color,
          width: 1.5,
          fill: l.fill ? l.color + '22' : undefined,
          value: (u, v) => (v === null || v === undefined ? '–' : fmt(v)),
          points: { show: false },
        })),
      ],
    };
    const plot = new uPlot(opts, [x, ...values], box);
    this.plots.push({ plot, box });
    return card;
  }

  resize() {
    for (const { plot, box } of this.plots) {
      const w = box.clientWidth;
      if (w > 0 && Math.abs(w - plot.width) > 4) plot.setSize({ width: w, height: plot.height });
    }
  }

  destroy() {
    window.removeEventListener('resize', this.onResize);
    for (const { plot } of this.plots) plot.destroy();
    this.plots = [];
  }
}

function isPow10(v) {
  const e = Math.log10(v);
  return Math.abs(e - Math.round(e)) < 1e-9;
}
