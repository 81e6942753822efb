import { get, post } from '../api.js';
import { act, ago, banner, empty, h, status, table, toast, when } from '../ui.js';
import { every } from './poll.js';

/** Conversations with their owner (hand-over), deliveries with attempts, dead letters with replay. */
export async function relay(main, ctx) {
  const stats = h('div', { class: 'grid' });
  const conversations = h('section', {});
  const dead = h('section', {});
  const recent = h('section', {});
  main.append(h('h1', {}, 'Relay'), stats, conversations, dead, recent);
  const operator = ctx.can('operator');

  async function refresh() {
    try {
      const [s, convs, deadList, deliveries] = await Promise.all([
        get('/api/relay/stats?window=1h', { conditional: true }),
        get('/api/relay/conversations?limit=50', { conditional: true }),
        get('/api/relay/deliveries?state=dead&limit=50', { conditional: true }),
        get('/api/relay/deliveries?limit=20', { conditional: true }),
      ]);
      stats.replaceChildren(...[['Messages / min', s.messagesPerMinute], ['Backlog', s.backlog], ['Dead letters', s.deadLetters], ['Delivered (1 h)', s.delivered]]
        .map(([k, v]) => h('section', { class: 'card' }, h('h2', {}, k), h('p', { class: 'big' }, String(v)))));
      conversations.replaceChildren(h('h2', {}, 'Conversations'), convs.conversations.length === 0
        ? empty('No conversation yet. Point an Evolution instance\'s webhook at a relay route (Settings → Relay routes) and they appear here.')
        : table(['Customer', 'Instance', 'Owner', 'Last message', ''], convs.conversations.map((c) => [c.customerName || c.customerJid, c.instance, status(c.owner), ago(c.lastMessageAt),
          operator ? h('button', { type: 'button', onclick: (e) => act(e.target, () => post(`/api/relay/conversations/${c.id}/handover`, { to: c.owner === 'bot' ? 'human' : 'bot', reason: 'from the dashboard' }),
            () => { toast(`Handed to the ${c.owner === 'bot' ? 'humans' : 'bot'}.`); refresh(); }) }, c.owner === 'bot' ? 'Hand to humans' : 'Hand to bot') : '']),
        { caption: 'Conversations' }));
      dead.replaceChildren(h('h2', {}, 'Dead letters'), deadList.deliveries.length === 0
        ? empty('No dead letters: every delivery arrived or is still being retried.')
        : table(['Delivery', 'Target', 'Attempts', 'Last error', 'Died', ''], deadList.deliveries.map((d) => [String(d.id), `${d.target} (${d.instance})`, d.attempts, d.lastError || '—', when(d.deadAt),
          operator ? h('button', { type: 'button', onclick: (e) => act(e.target, () => post(`/api/relay/deliveries/${d.id}/replay`), () => { toast(`Delivery ${d.id} is queued again.`); refresh(); }) }, 'Replay') : '']),
        { caption: 'Dead letters' }));
      recent.replaceChildren(h('h2', {}, 'Latest deliveries'), deliveries.deliveries.length === 0 ? empty('No deliveries yet.')
        : table(['Delivery', 'Target', 'State', 'Attempts', 'Last status', 'Created'], deliveries.deliveries.map((d) => [String(d.id), `${d.target} (${d.instance})`, status(d.state), d.attempts, d.lastStatus ?? '—', ago(d.createdAt)]),
          { caption: 'Latest deliveries' }));
      main.dataset.ready = String(Date.now());
    } catch (err) { banner(err.message); }
  }
  return every(5, refresh);
}
