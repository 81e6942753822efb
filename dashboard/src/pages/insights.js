import { get } from '../api.js';
import { banner, empty, h, status, when } from '../ui.js';
import { every } from './poll.js';

/** The heuristics' findings, newest first, filterable. */
export async function insights(main) {
  const state = h('select', { id: 'insight-state', onchange: () => refresh() }, h('option', { value: 'active' }, 'Active'), h('option', { value: '' }, 'All'), h('option', { value: 'resolved' }, 'Resolved'));
  const list = h('div', {});
  main.append(h('h1', {}, 'Insights'), h('p', { class: 'muted' }, 'Every minute the heuristics look at sign-ins, traffic, metrics and the relay; what they notice is explained here.'),
    h('label', { for: 'insight-state' }, 'Show', state), list);
  async function refresh() {
    try {
      const page = await get(`/api/insights?limit=100${state.value ? `&state=${state.value}` : ''}`, { conditional: true });
      list.replaceChildren(page.insights.length === 0
        ? empty(state.value === 'active' ? 'Nothing unusual right now. Resolved insights are under “All”.' : 'No insights yet.')
        : h('div', { class: 'grid' }, page.insights.map((i) => h('article', { class: 'card' },
          h('h2', {}, status(i.severity), ' ', i.title),
          h('p', {}, i.message), h('p', {}, h('strong', {}, 'What to do: '), i.action),
          h('p', { class: 'muted' }, `${i.state === 'active' ? 'Active' : 'Resolved'} · first seen ${when(i.firstSeen)} · last ${when(i.lastSeen)}${i.scope === 'installation' ? ' · installation-wide' : ''}`)))));
      main.dataset.ready = String(Date.now());
    } catch (err) { banner(err.message); }
  }
  return every(15, refresh);
}
