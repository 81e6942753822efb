import { del, get, patch, post, put } from '../api.js';
import { act, banner, empty, field, h, status, table, toast, when } from '../ui.js';

/** Users and roles, API keys, relay routes, notification targets (admins). */
export async function settings(main) {
  const users = h('section', {});
  const keys = h('section', {});
  const routes = h('section', {});
  const receivers = h('section', {});
  // What a form shows once (a key, a secret, an invitation) stays here while the lists below are reloaded.
  const notice = h('section', { class: 'card notice', hidden: true, 'aria-live': 'polite', tabindex: '-1' });
  const reveal = (...children) => {
    notice.replaceChildren(...children, h('p', {}, h('button', { type: 'button', onclick: () => { notice.hidden = true; } }, 'Done, I saved it')));
    notice.hidden = false;
    notice.focus();
  };
  main.append(h('h1', {}, 'Settings'), notice, users, keys, routes, receivers);

  async function load() {
    try {
      const [u, k, r, n] = await Promise.all([get('/api/users'), get('/api/keys'), get('/api/relay/routes'), get('/api/alerts/receivers')]);
      users.replaceChildren(h('h2', {}, 'Users and roles'), inviteForm(reveal, load),
        table(['Name', 'Email', 'Role', 'State'], u.users.map((x) => [x.displayName, x.email, roleSelect(x, load),
          x.disabled ? status('offline', 'disabled') : x.invitationPending ? status('pending', 'invited') : status('online', 'active')]), { caption: 'Users' }));
      keys.replaceChildren(h('h2', {}, 'API keys'), keyForm(reveal, load), k.apiKeys.length === 0 ? empty('No API key yet. Create one for a script or an n8n flow; it is shown once.')
        : table(['Name', 'Prefix', 'Scopes', 'Created', ''], k.apiKeys.map((x) => [x.name, h('code', {}, x.prefix), x.scopes.join(', '), when(x.createdAt),
          x.revokedAt ? status('revoked') : h('button', { type: 'button', class: 'danger', onclick: (e) => confirm(`Revoke the key “${x.name}”? Anything using it stops working.`) && act(e.target, () => del(`/api/keys/${x.id}`), load) }, 'Revoke')]),
        { caption: 'API keys' }));
      const routeEditor = h('div', {});
      routes.replaceChildren(h('h2', {}, 'Relay routes'), routeEditor, routeForm(reveal, load), r.routes.length === 0
        ? empty('No relay route. Add one above for each Evolution instance; its webhook URLs then appear here to paste into Evolution and Chatwoot.')
        : table(['Instance', 'Targets', 'Evolution webhook URL', 'Chatwoot webhook URL', ''], r.routes.map((x) => [x.instance, x.targets.map((t) => t.name ?? t.target).join(', '),
          h('code', {}, x.evolutionWebhookUrl), x.chatwootWebhookUrl ? h('code', {}, x.chatwootWebhookUrl) : '—',
          h('div', { class: 'row' }, h('button', { type: 'button', onclick: () => { routeEditor.replaceChildren(routeForm(reveal, load, x)); routeEditor.querySelector('input:not([disabled])')?.focus(); } }, 'Edit'),
            h('button', { type: 'button', class: 'danger', onclick: (e) => confirm(`Delete the route for “${x.instance}”? Its webhooks will be refused.`) && act(e.target, () => del(`/api/relay/routes/${encodeURIComponent(x.instance)}`), load) }, 'Delete'))]),
        { caption: 'Relay routes' }));
      receivers.replaceChildren(h('h2', {}, 'Notification targets'), receiverForm(reveal, load), n.receivers.length === 0
        ? empty('No notification target: alerts are shown here but sent nowhere. Add an n8n or Slack webhook above.')
        : table(['Name', 'Kind', 'Where', 'Group by', ''], n.receivers.map((x) => [x.name, x.kind, x.url || `Chatwoot ${x.chatwootInstance} #${x.chatwootConversationId}`, x.groupBy.join(', '),
          h('div', { class: 'row' }, h('button', { type: 'button', onclick: (e) => act(e.target, () => post(`/api/alerts/receivers/${x.id}/test`), () => toast(`Test notification queued for ${x.name}.`)) }, 'Send test'),
            h('button', { type: 'button', class: 'danger', onclick: (e) => confirm(`Delete the target “${x.name}”?`) && act(e.target, () => del(`/api/alerts/receivers/${x.id}`), load) }, 'Delete'))]),
        { caption: 'Notification targets' }));
    } catch (err) { banner(err.message); }
  }
  await load();
  return () => {};
}

/** A user's role, changed in place (the API refuses what would leave the team without an owner, in a sentence). */
function roleSelect(user, done) {
  const select = h('select', { 'aria-label': `Role of ${user.email}` }, ['viewer', 'operator', 'admin', 'owner'].map((r) => h('option', { value: r, selected: r === user.role }, r)));
  select.addEventListener('change', () => act(select, () => patch(`/api/users/${user.id}`, { role: select.value }),
    () => { toast(`${user.email} is now ${select.value}.`); done(); }).then((r) => { if (r === undefined) select.value = user.role; }));
  return select;
}

function inviteForm(reveal, done) {
  const email = field('Email', { type: 'email', required: true }, null, (v) => (/^[^@\s]+@[^@\s]+$/.test(v.trim()) ? '' : 'An email address.'));
  const role = h('select', { id: 'invite-role' }, ['viewer', 'operator', 'admin', 'owner'].map((r) => h('option', { value: r }, r)));
  const submit = h('button', { type: 'submit' }, 'Invite');
  const form = h('form', { class: 'stack card', novalidate: true }, email.wrap, h('label', { for: 'invite-role' }, 'Role', role), submit);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!email.check()) return;
    act(submit, () => post('/api/users', { email: email.input.value.trim(), role: role.value }), (created) => {
      reveal(created.invitation ? h('p', {}, 'Send them this invitation (shown once): ', h('code', { class: 'secret' }, created.invitation)) : h('p', {}, 'Invited.'));
      done();
    });
  });
  return form;
}

function keyForm(reveal, done) {
  const name = field('Key name', { required: true, maxlength: 100, placeholder: 'n8n flows' }, null, (v) => (v.trim() ? '' : 'Name the key after what uses it.'));
  const scopes = ['ratelimit:check', 'stats:read', 'metrics:read', 'relay:read', 'relay:write', 'alerts:read'];
  const boxes = scopes.map((s) => h('label', { class: 'row' }, h('input', { type: 'checkbox', value: s }), s));
  const submit = h('button', { type: 'submit' }, 'Create key');
  const form = h('form', { class: 'stack card', novalidate: true }, name.wrap, h('fieldset', {}, h('legend', {}, 'Scopes'), boxes), submit);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!name.check()) return;
    const chosen = boxes.map((b) => b.querySelector('input')).filter((i) => i.checked).map((i) => i.value);
    act(submit, () => post('/api/keys', { name: name.input.value.trim(), scopes: chosen }), (created) => {
      reveal(h('p', {}, 'The key, shown only now:'), h('pre', { class: 'secret' }, created.key));
      done();
    });
  });
  return form;
}

/** A relay route for one Evolution instance: where its messages go (n8n, Chatwoot) and how its webhooks authenticate.
 * Editing one leaves secrets empty: what is left empty keeps its stored value (the API's rule), and saving re-enables a
 * target a 410 disabled. */
function routeForm(reveal, done, existing) {
  if (existing?.targets.some((t) => t.target === 'botpress')) {
    return empty(`The route for ${existing.instance} has a Botpress target, which this form does not edit; change it with PUT /api/relay/routes/${existing.instance}.`);
  }
  const target = (name) => existing?.targets.find((t) => t.target === name);
  const keep = existing ? 'leave empty to keep the stored one' : null;
  const url = (v, required) => (!v.trim() && !required) || /^https?:\/\/\S+$/.test(v.trim()) ? '' : 'An http(s) URL.';
  const secretOk = (v, message) => (existing || v.trim() ? '' : message);
  const chatwootOn = () => Boolean(f.chatwootUrl.input.value.trim());
  const f = {
    instance: field('Instance', { required: true, maxlength: 100, placeholder: 'vendas', value: existing?.instance, disabled: Boolean(existing) }, 'the Evolution instance name',
      (v) => (/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(v.trim()) ? '' : 'Letters, digits, dots, dashes or underscores.')),
    evolutionUrl: field('Evolution base URL', { type: 'url', placeholder: 'https://evolution.example.com', value: target('evolution')?.url }, null, (v) => url(v, true)),
    evolutionKey: field('Evolution API key', { type: 'password', autocomplete: 'off' }, keep ?? 'the instance token replies are sent with', (v) => secretOk(v, 'Needed to send replies.')),
    jwtKey: field('Webhook JWT key', { type: 'password', autocomplete: 'off' }, keep ?? 'the jwt_key set on the instance\'s webhook (16+ characters)',
      (v) => ((existing && !v.trim()) || v.trim().length >= 16 ? '' : 'At least 16 characters.')),
    n8n: field('n8n webhook URL', { type: 'url', placeholder: 'https://n8n.example.com/webhook/whatsapp', value: target('n8n')?.url }, 'optional: the bot', (v) => url(v, false)),
    chatwootUrl: field('Chatwoot base URL', { type: 'url', placeholder: 'https://chatwoot.example.com', value: target('chatwoot')?.url }, 'optional: the human team', (v) => url(v, false)),
    account: field('Chatwoot account id', { inputmode: 'numeric', value: target('chatwoot')?.accountId }, null, (v) => (!chatwootOn() || /^[1-9]\d*$/.test(v.trim()) ? '' : 'A number.')),
    inbox: field('Chatwoot inbox id', { inputmode: 'numeric', value: target('chatwoot')?.inboxId }, null, (v) => (!chatwootOn() || /^[1-9]\d*$/.test(v.trim()) ? '' : 'A number.')),
    token: field('Chatwoot API token', { type: 'password', autocomplete: 'off' }, keep, (v) => (!chatwootOn() || target('chatwoot') || v.trim() ? '' : 'Needed to post into Chatwoot.')),
    secret: field('Chatwoot webhook secret', { type: 'password', autocomplete: 'off' }, keep, (v) => (!chatwootOn() || target('chatwoot') || v.trim() ? '' : 'Needed to check Chatwoot\'s signatures.')),
  };
  const submit = h('button', { type: 'submit', class: existing ? 'primary' : null }, existing ? 'Save route' : 'Add route');
  const form = h('form', { class: 'stack card', novalidate: true }, h('h3', {}, existing ? `Edit ${existing.instance}` : 'Add a route'), Object.values(f).map((x) => x.wrap),
    h('div', { class: 'row' }, submit, existing ? h('button', { type: 'button', onclick: () => form.remove() }, 'Cancel') : null));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!Object.values(f).map((x) => x.check()).every(Boolean)) return;
    const v = (x) => x.input.value.trim() || undefined;
    const body = {
      instance: v(f.instance),
      auth: existing ? { mode: existing.auth, jwtKey: v(f.jwtKey), headerName: existing.headerName ?? undefined } : { mode: 'jwt', jwtKey: v(f.jwtKey) },
      bot: existing?.bot ?? undefined,
      evolution: { baseUrl: v(f.evolutionUrl), apiKey: v(f.evolutionKey) },
      n8n: v(f.n8n) ? { url: v(f.n8n) } : null,
      chatwoot: v(f.chatwootUrl) ? { baseUrl: v(f.chatwootUrl), accountId: Number(v(f.account)), inboxId: Number(v(f.inbox)), apiToken: v(f.token), webhookSecret: v(f.secret) } : null,
    };
    act(submit, () => (existing ? put(`/api/relay/routes/${encodeURIComponent(existing.instance)}`, body) : post('/api/relay/routes', body)), (saved) => {
      reveal(h('p', {}, existing ? `Route ${existing.instance} saved. ` : 'Paste into the instance\'s webhook: ', h('code', {}, saved.route.evolutionWebhookUrl)),
        saved.n8nSigningSecret && !existing ? h('p', {}, 'n8n signing secret (shown once): ', h('code', { class: 'secret' }, saved.n8nSigningSecret)) : null);
      done();
    });
  });
  return form;
}

function receiverForm(reveal, done) {
  const name = field('Name', { required: true, maxlength: 100, placeholder: 'ops Slack' }, null, (v) => (v.trim() ? '' : 'Name the target.'));
  const kind = h('select', { id: 'receiver-kind' }, [['slack', 'Slack-compatible webhook'], ['n8n', 'n8n webhook'], ['webhook', 'Webhook (Alertmanager JSON)'], ['chatwoot', 'Chatwoot private note']]
    .map(([k, label]) => h('option', { value: k }, label)));
  const url = field('Webhook URL', { type: 'url', placeholder: 'https://hooks.slack.com/services/…' }, null,
    (v) => (kind.value === 'chatwoot' || /^https?:\/\/\S+$/.test(v.trim()) ? '' : 'An http(s) URL.'));
  const instance = field('Relay route (instance)', { placeholder: 'vendas' }, 'its Chatwoot account posts the note',
    (v) => (kind.value !== 'chatwoot' || v.trim() ? '' : 'The instance whose relay route has the Chatwoot account.'));
  const conversation = field('Chatwoot conversation id', { inputmode: 'numeric', placeholder: '42' }, 'the conversation your team watches for alerts',
    (v) => (kind.value !== 'chatwoot' || /^[1-9]\d*$/.test(v.trim()) ? '' : 'A conversation number, e.g. 42.'));
  const sync = () => {
    const chatwoot = kind.value === 'chatwoot';
    url.wrap.hidden = chatwoot;
    instance.wrap.hidden = !chatwoot;
    conversation.wrap.hidden = !chatwoot;
  };
  kind.addEventListener('change', sync);
  sync();
  const submit = h('button', { type: 'submit' }, 'Add target');
  const form = h('form', { class: 'stack card', novalidate: true }, name.wrap, h('label', { for: 'receiver-kind' }, 'Kind', kind), url.wrap, instance.wrap, conversation.wrap, submit);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (![name.check(), url.check(), instance.check(), conversation.check()].every(Boolean)) return;
    const body = kind.value === 'chatwoot'
      ? { name: name.input.value.trim(), kind: 'chatwoot', chatwootInstance: instance.input.value.trim(), chatwootConversationId: Number(conversation.input.value) }
      : { name: name.input.value.trim(), kind: kind.value, url: url.input.value.trim() };
    act(submit, () => post('/api/alerts/receivers', body), (created) => {
      reveal(created.signingSecret ? h('p', {}, 'Signing secret (shown once): ', h('code', { class: 'secret' }, created.signingSecret)) : h('p', {}, 'Added.'));
      done();
    });
  });
  return form;
}
