import { get } from '../api.js';
import { banner, empty, h, number, table } from '../ui.js';
import { lineChart } from '../charts.js';
import { every } from './poll.js';

/** Traffic, latency percentiles, status classes, top routes and addresses, 429s. */
export async function gateway(main, ctx) {
  const totals = h('div', { class: 'grid' });
  const charts = h('div', { class: 'charts' });
  const traffic = lineChart(charts.appendChild(h('section', { class: 'chart' })), 'Requests per minute by status class');
  const latency = lineChart(charts.appendChild(h('section', { class: 'chart' })), 'Latency', 'ms');
  const tops = h('div', {});
  main.append(h('h1', {}, 'Gateway'), h('p', { class: 'muted' }, 'The last hour of this team\'s API traffic.'), totals, charts, tops);
  return every(10, async () => {
    try {
      const r = await get('/api/stats/gateway?window=1h&step=1m', { conditional: true });
      // Brute-force blocks are installation-wide insights, which owners see.
      const blocks = ctx.can('owner') ? (await get('/api/insights?kind=brute_force&state=active', { conditional: true })).insights : null;
      const blocked = blocks === null ? empty('Blocked addresses are shown to owners.')
        : blocks.length === 0 ? empty('No address is blocked. An address that fails to sign in 5 times in 10 minutes is blocked from the sign-in routes.')
          : table(['Address', 'Why', 'Until'], blocks.map((b) => [b.subject.replace(/^ip:/, ''), b.message, new Date(b.windowEnd).toLocaleString()]), { caption: 'Blocked addresses' });
      const t = r.totals;
      totals.replaceChildren(...[['Requests', number(t.requests, 0)], ['Per minute', number(t.requestsPerMinute, 1)], ['p50 / p95 / p99', `${number(t.p50Ms, 0)} / ${number(t.p95Ms, 0)} / ${number(t.p99Ms, 0)} ms`],
        ['4xx / 5xx', `${t.status4xx} / ${t.status5xx}`], ['Rate-limited (429)', String(t.rateLimited)]].map(([k, v]) => h('section', { class: 'card' }, h('h2', {}, k), h('p', { class: 'big' }, v))));
      const at = (b) => Math.floor(new Date(b.time).getTime() / 1000);
      traffic.update(['status2xx', 'status3xx', 'status4xx', 'status5xx'].map((k) => ({ name: k.replace('status', ''), points: r.series.map((b) => [at(b), b[k]]) })));
      latency.update(['p50Ms', 'p95Ms', 'p99Ms'].map((k) => ({ name: k.replace('Ms', ''), points: r.series.filter((b) => b[k] !== null).map((b) => [at(b), b[k]]) })));
      tops.replaceChildren(h('h2', {}, 'Top routes'), r.topRoutes.length === 0 ? empty('No requests in the last hour.')
        : table(['Route', 'Requests', '4xx', '5xx', 'p95'], r.topRoutes.map((x) => [`${x.method} ${x.route}`, x.requests, x.errors4xx, x.errors5xx, `${number(x.p95Ms, 0)} ms`])),
      h('h2', {}, 'Top client addresses'), r.topIps.length === 0 ? empty('No requests in the last hour.')
        : table(['Address', 'Requests', '429s', '4xx'], r.topIps.map((x) => [x.ip, x.requests, x.rateLimited, x.errors4xx])),
      h('h2', {}, 'Blocked addresses'), blocked);
      main.dataset.ready = String(Date.now());
    } catch (err) { banner(err.message); }
  });
}
