// Time-series charts with uPlot: one chart per metric, one line per series, sized to its container, colours that
// read in light and dark themes. update() swaps the data in place (no re-creation on each poll).
import uPlot from 'uplot';

const palette = ['#2563eb', '#d97706', '#059669', '#db2777', '#7c3aed', '#0891b2', '#65a30d', '#dc2626'];

export function lineChart(container, title, unit) {
  const heading = container.appendChild(document.createElement('h3'));
  heading.textContent = title;
  const holder = container.appendChild(document.createElement('div'));
  const summary = container.appendChild(document.createElement('p'));
  summary.className = 'sr-only';
  summary.setAttribute('aria-live', 'off');
  let plot = null;
  let seriesKey = '';
  const dark = window.matchMedia('(prefers-color-scheme: dark)').matches;
  const axis = { stroke: dark ? '#a7b0bd' : '#515a66', grid: { stroke: dark ? '#2e3540' : '#e5e7eb' }, ticks: { stroke: dark ? '#2e3540' : '#e5e7eb' } };

  function build(names, data) {
    plot?.destroy();
    const width = Math.max(280, holder.clientWidth || container.clientWidth - 16 || 600);
    plot = new uPlot({
      width, height: 200,
      series: [{}, ...names.map((n, i) => ({ label: n, stroke: palette[i % palette.length], width: 1.5, points: { show: false } }))],
      axes: [axis, { ...axis, values: (u, ticks) => ticks.map((t) => `${fmt(t)}${unit ? ` ${unit}` : ''}`), size: 70 }],
      legend: { show: names.length > 1 },
      cursor: { drag: { x: false, y: false } },
    }, data, holder);
    seriesKey = names.join('\u0000');
  }

  return {
    /** series: [{ name, points: [[unixSeconds, value], …] }] */
    update(all) {
      const series = all.filter((s) => s.points.length > 0);
      container.dataset.points = String(series.reduce((n, s) => n + s.points.length, 0));
      if (series.length === 0) {
        plot?.destroy(); plot = null; seriesKey = '';
        holder.replaceChildren(Object.assign(document.createElement('p'), { className: 'muted', textContent: 'No data in this range yet.' }));
        summary.textContent = `${title}: no data.`;
        return;
      }
      const times = [...new Set(series.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
      const index = new Map(times.map((t, i) => [t, i]));
      const columns = series.map((s) => {
        const col = new Array(times.length).fill(null);
        for (const [t, v] of s.points) col[index.get(t)] = v;
        return col;
      });
      const names = series.map((s) => s.name);
      if (!plot || names.join('\u0000') !== seriesKey) {
        holder.replaceChildren();
        build(names, [times, ...columns]);
      } else {
        plot.setData([times, ...columns]);
      }
      const last = series.map((s) => `${s.name} ${fmt(s.points.at(-1)?.[1])}${unit ? ` ${unit}` : ''}`).join(', ');
      summary.textContent = `${title}, latest: ${last}.`;
      container.dataset.drawn = String(Date.now());
    },
    resize() { if (plot) plot.setSize({ width: Math.max(280, holder.clientWidth), height: 200 }); },
  };
}

function fmt(v) {
  if (v === null || v === undefined) return '—';
  const a = Math.abs(v);
  if (a >= 1e9) return `${(v / 1e9).toFixed(1)}G`;
  if (a >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (a >= 1e4) return `${(v / 1e3).toFixed(0)}k`;
  return a >= 100 ? v.toFixed(0) : a >= 1 ? v.toFixed(1) : v.toFixed(2);
}
