// The console's shell: sign-in gate, navigation by role, hash routes, and one page at a time (each page may poll; the
// router stops it when you leave).
import { configure, get, session } from './api.js';
import { banner, h } from './ui.js';
import { signin } from './pages/signin.js';
import { overview } from './pages/overview.js';
import { agents, agent } from './pages/agents.js';
import { alerts } from './pages/alerts.js';
import { insights } from './pages/insights.js';
import { gateway } from './pages/gateway.js';
import { relay } from './pages/relay.js';
import { settings } from './pages/settings.js';

const roles = ['viewer', 'operator', 'admin', 'owner'];
const routes = [
  { path: 'overview', title: 'Overview', page: overview },
  { path: 'agents', title: 'Agents', page: agents },
  { path: 'alerts', title: 'Alerts', page: alerts },
  { path: 'insights', title: 'Insights', page: insights },
  { path: 'gateway', title: 'Gateway', page: gateway },
  { path: 'relay', title: 'Relay', page: relay },
  { path: 'settings', title: 'Settings', page: settings, role: 'admin' },
];

let stop = null;
let expiredMessage = '';

const main = document.getElementById('main');

export const ctx = {
  me: null,
  can(role) { return roles.indexOf(ctx.me?.role) >= roles.indexOf(role); },
};

function signedOut(message) {
  expiredMessage = message || '';
  if (location.hash !== '#/signin') location.hash = '#/signin';
  else render();
}

async function loadMe() {
  ctx.me = session.me;
  if (ctx.me || !session.access) return;
  ctx.me = await get('/api/auth/me');
  session.remember(ctx.me);
}

function chrome() {
  const header = document.querySelector('.top');
  header.hidden = !ctx.me;
  if (!ctx.me) return;
  const current = (location.hash.slice(2) || 'overview').split('/')[0];
  document.getElementById('nav').replaceChildren(...routes.filter((r) => !r.role || ctx.can(r.role)).map((r) =>
    h('li', {}, h('a', { href: `#/${r.path}`, 'aria-current': r.path === current ? 'page' : null }, r.title))));
  document.getElementById('who').textContent = `${ctx.me.user?.displayName || ctx.me.user?.email || ctx.me.subjectId} · ${ctx.me.role}${ctx.me.tenantName ? ` · ${ctx.me.tenantName}` : ''}`;
}

async function render() {
  stop?.();
  stop = null;
  banner('');
  delete main.dataset.ready; // set again by the page once its data is drawn (the browser tests time it)
  const [path, ...rest] = (location.hash.slice(2) || 'overview').split('/');
  if (!session.access || path === 'signin') {
    ctx.me = null;
    chrome();
    document.title = 'Sign in · Sentinel';
    stop = await signin(main, { message: expiredMessage, done: () => { expiredMessage = ''; location.hash = '#/overview'; } });
    return;
  }
  try {
    await loadMe();
  } catch (err) {
    banner(err.message);
    return;
  }
  chrome();
  const route = routes.find((r) => r.path === path);
  main.replaceChildren();
  if (path === 'agents' && rest.length > 0) {
    document.title = 'Agent · Sentinel';
    stop = await agent(main, decodeURIComponent(rest[0]));
  } else if (!route || (route.role && !ctx.can(route.role))) {
    main.append(h('h1', {}, 'Not here'), h('p', {}, 'This page does not exist or your role cannot see it. ', h('a', { href: '#/overview' }, 'Go to the overview.')));
  } else {
    document.title = `${route.title} · Sentinel`;
    stop = await route.page(main, ctx);
  }
  main.focus({ preventScroll: true });
}

document.getElementById('signout').addEventListener('click', async () => {
  try { await (await import('./api.js')).post('/api/auth/logout'); } catch { /* signing out anyway */ }
  session.clear();
  signedOut('You are signed out.');
});

window.addEventListener('hashchange', render);
await configure(signedOut);
render();
