import { get } from '../api.js';
import { banner, empty, h, number, status, table, ago } from '../ui.js';
import { every } from './poll.js';

/** The five-second answer to "is everything fine?": every number on one screen, refreshed every 5 s. */
export async function overview(main) {
  const summary = h('section', { class: 'card', 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Loading…'));
  const tiles = h('div', { class: 'grid' });
  const firing = h('section', {});
  const newest = h('section', {});
  main.append(h('h1', {}, 'Overview'), summary, h('h2', {}, 'Now'), tiles, firing, newest);

  const tile = (title, big, ...rest) => h('section', { class: 'card', 'data-tile': title }, h('h2', {}, title), h('p', { class: 'big' }, big), ...rest);

  return every(5, async () => {
    try {
      const [ai, agentList, gw, relayStats, alertList] = await Promise.all([
        get('/api/ai/insight', { conditional: true }),
        get('/api/agents', { conditional: true }),
        get('/api/stats/gateway?window=15m&step=1m', { conditional: true }),
        get('/api/relay/stats?window=15m', { conditional: true }),
        get('/api/alerts?state=firing', { conditional: true }),
      ]);
      banner('');
      summary.replaceChildren(h('p', {}, status(ai.status, ai.status === 'ok' ? 'All good' : ai.status), ' ', ai.summary));
      const t = gw.totals;
      const errors = t.requests ? (t.status5xx / t.requests) * 100 : 0;
      tiles.replaceChildren(
        tile('Agents', `${agentList.online} up`, h('p', {}, agentList.offline ? status('offline', `${agentList.offline} down`) : status('online', 'none down'),
          ' ', h('a', { href: '#/agents' }, 'See agents'))),
        tile('Firing alerts', String(alertList.alerts.length), h('p', {}, h('a', { href: '#/alerts' }, 'See alerts'))),
        tile('Gateway', `${number(t.requestsPerMinute, 0)}/min`, h('p', {}, `p95 ${number(t.p95Ms, 0)} ms · ${number(errors, 2)} % 5xx · ${t.rateLimited} rate-limited (15 min)`)),
        tile('Relay', `${number(relayStats.messagesPerMinute, 1)} msg/min`, h('p', {}, `backlog ${relayStats.backlog} · `,
          relayStats.deadLetters ? status('dead', `${relayStats.deadLetters} dead letters`) : 'no dead letters', ' ', h('a', { href: '#/relay' }, 'See relay'))));
      firing.replaceChildren(h('h2', {}, 'Firing alerts'), alertList.alerts.length === 0
        ? empty('No alert is firing. Rules and silences are on the ', h('a', { href: '#/alerts' }, 'alerts page'), '.')
        : table(['Alert', 'Severity', 'Where', 'Since'], alertList.alerts.slice(0, 8).map((a) =>
          [a.ruleName, status(a.severity), a.labels.agent_name || a.labels.host || a.labels.instance || '—', ago(a.firedAt)])));
      newest.replaceChildren(h('h2', {}, 'Newest insights'), ai.insights.length === 0
        ? empty('The heuristics found nothing unusual. They look every minute at traffic, metrics and the relay.')
        : h('ul', {}, ai.insights.slice(0, 5).map((i) => h('li', {}, status(i.severity), ' ', h('strong', {}, i.title), ' — ', i.message))));
      main.dataset.ready = String(Date.now());
    } catch (err) {
      banner(err.message);
    }
  });
}
