import { get, post } from '../api.js';
import { act, ago, banner, empty, field, h, status, table, toast, when } from '../ui.js';
import { lineChart } from '../charts.js';
import { every } from './poll.js';

/** Inventory with status and last seen; admins register agents (the install command is shown once). */
export async function agents(main, ctx) {
  const list = h('section', {});
  const register = ctx.can('admin') ? registerForm(() => refresh()) : null;
  main.append(h('h1', {}, 'Agents'), register, list);

  async function refresh() {
    try {
      const { agents: all, online, offline } = await get('/api/agents', { conditional: true });
      list.replaceChildren(h('h2', {}, `Inventory (${online} up, ${offline} down)`), all.length === 0
        ? empty(ctx.can('admin')
          ? 'No agent yet. Register one above, then run the install command it shows on the server to watch.'
          : 'No agent yet. Ask an admin to register one.')
        : table(['Name', 'Status', 'Last seen', 'Host', 'Version'], all.map((a) => [
          h('a', { href: `#/agents/${encodeURIComponent(a.id)}` }, a.name), status(a.status), ago(a.lastSeen), a.host || '—', a.agentVersion || '—']),
        { caption: 'Agents' }));
    } catch (err) { banner(err.message); }
  }

  return every(10, refresh);
}

function registerForm(onDone) {
  const name = field('Name', { required: true, maxlength: 100, placeholder: 'web-1' }, 'How this server is shown (letters, digits, . _ -).',
    (v) => (/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(v.trim()) ? '' : 'Use 1–100 letters, digits, dots, dashes or underscores.'));
  const result = h('div', {});
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Register agent');
  const form = h('form', { class: 'stack card', novalidate: true }, h('h2', {}, 'Register an agent'), name.wrap, submit, result);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!name.check()) return;
    act(submit, () => post('/api/agents', { name: name.input.value.trim() }), (created) => {
      const command = h('pre', { class: 'secret', 'data-install': '' }, created.install);
      result.replaceChildren(h('p', {}, h('strong', {}, 'Run this on the server, as root. '), 'It is shown only now: it contains the agent\'s key.'), command,
        h('button', { type: 'button', onclick: async () => {
          try { await navigator.clipboard.writeText(created.install); toast('Install command copied.'); } catch { toast('Select the command and copy it by hand.'); }
        } }, 'Copy command'));
      name.input.value = '';
      onDone();
    });
  });
  return form;
}

const ranges = [
  { id: '1h', seconds: 3600, step: 10, live: true },
  { id: '6h', seconds: 6 * 3600, step: 60, live: true },
  { id: '24h', seconds: 86400, step: 300, live: false },
  { id: '7d', seconds: 7 * 86400, step: 3600, live: false },
  { id: '30d', seconds: 30 * 86400, step: 3 * 3600, live: false },
];

const panels = [
  { title: 'CPU', metric: 'cpu.usage', match: ['core=total'], unit: '%' },
  { title: 'Memory', metric: 'mem.used_percent', unit: '%' },
  { title: 'Disk', metric: 'fs.used_percent', unit: '%', label: 'mountpoint' },
  { title: 'Network received', metric: 'net.rx_bytes_per_second', unit: 'B/s', label: 'interface' },
  { title: 'Network sent', metric: 'net.tx_bytes_per_second', unit: 'B/s', label: 'interface' },
  { title: 'Containers CPU', metric: 'container.cpu_percent', unit: '%', label: 'container' },
  { title: 'Service probes up', metric: 'probe.up', label: 'probe' },
];

/** One agent: its facts and its charts over 1 h … 30 d, live every 5 s on the short ranges. */
export async function agent(main, id) {
  let range = ranges[0];
  const facts = h('section', { class: 'card' });
  const buttons = ranges.map((r) => h('button', { type: 'button', 'aria-pressed': String(r === range), onclick: () => { range = r; delete main.dataset.ready; buttons.forEach((b, i) => b.setAttribute('aria-pressed', String(ranges[i] === r))); load(); } }, r.id));
  const grid = h('div', { class: 'charts' });
  const charts = panels.map((p) => {
    const box = h('section', { class: 'chart', 'data-metric': p.metric });
    grid.append(box);
    return { panel: p, chart: lineChart(box, p.title, p.unit) };
  });
  main.append(h('p', {}, h('a', { href: '#/agents' }, '← Agents')), h('h1', {}, 'Agent'), facts,
    h('div', { class: 'tabs', role: 'group', 'aria-label': 'Time range' }, buttons), grid);

  async function load() {
    const to = Math.floor(Date.now() / 1000);
    const from = to - range.seconds;
    try {
      const info = await get(`/api/agents/${encodeURIComponent(id)}`, { conditional: true });
      main.querySelector('h1').textContent = info.name;
      facts.replaceChildren(h('dl', { class: 'kv' },
        h('dt', {}, 'Status'), h('dd', {}, status(info.status)), h('dt', {}, 'Last seen'), h('dd', {}, ago(info.lastSeen)),
        h('dt', {}, 'Host'), h('dd', {}, info.host || '—'), h('dt', {}, 'Interval'), h('dd', {}, info.intervalSeconds ? `${info.intervalSeconds} s` : '—'),
        h('dt', {}, 'Registered'), h('dd', {}, when(info.createdAt))));
      await Promise.all(charts.map(async ({ panel, chart }) => {
        const q = new URLSearchParams({ metric: panel.metric, agent: id, from: String(from), to: String(to), step: String(range.step) });
        for (const m of panel.match || []) q.append('match', m);
        const result = await get(`/api/metrics/query?${q}`, { conditional: true });
        chart.update(result.series.map((s) => ({ name: panel.label ? (s.labels[panel.label] || panel.title) : panel.title, points: s.points })));
      }));
      banner('');
      main.dataset.ready = String(Date.now());
    } catch (err) { banner(err.message); }
  }

  const stop = every(5, () => (range.live || !main.dataset.ready ? load() : Promise.resolve()));
  const resize = () => charts.forEach((c) => c.chart.resize());
  window.addEventListener('resize', resize);
  return () => { stop(); window.removeEventListener('resize', resize); };
}
