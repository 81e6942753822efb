import { del, get, post, put } from '../api.js';
import { act, ago, banner, empty, field, h, number, status, table, toast, when } from '../ui.js';
import { every } from './poll.js';

const tabs = ['Alerts', 'History', 'Silences', 'Rules'];

/** Firing and pending alerts (silence from one), the history, silences, and the rules editor. */
export async function alerts(main, ctx) {
  let current = 'Alerts';
  let stop = null;
  const body = h('div', {});
  const buttons = tabs.map((t) => h('button', { type: 'button', 'aria-pressed': String(t === current), onclick: () => show(t) }, t));
  main.append(h('h1', {}, 'Alerts'), h('div', { class: 'tabs', role: 'group', 'aria-label': 'Alerts sections' }, buttons), body);

  function show(tab) {
    current = tab;
    buttons.forEach((b) => b.setAttribute('aria-pressed', String(b.textContent === tab)));
    stop?.();
    body.replaceChildren();
    stop = tab === 'Alerts' ? active(body, ctx) : tab === 'History' ? history(body) : tab === 'Silences' ? silences(body, ctx) : rules(body, ctx);
  }

  show('Alerts');
  return () => stop?.();
}

function active(body, ctx) {
  const list = h('div', {});
  const form = h('div', {});
  body.append(form, list);
  return every(5, async () => {
    try {
      const { alerts: all } = await get('/api/alerts', { conditional: true });
      list.replaceChildren(all.length === 0
        ? empty('Nothing is firing or pending. Rules are evaluated when data arrives and every minute; see the Rules tab.')
        : table(['Alert', 'State', 'Severity', 'Labels', 'Value', 'Since', ''], all.map((a) => [
          a.ruleName, status(a.state), status(a.severity),
          Object.entries(a.labels).filter(([k]) => !['alertname', 'severity'].includes(k)).map(([k, v]) => `${k}=${v}`).join(', '),
          number(a.value, 2), ago(a.firedAt || a.activeAt),
          a.silencedBy.length || a.inhibitedBy ? status('info', a.silencedBy.length ? 'silenced' : 'inhibited')
            : ctx.can('operator') ? h('button', { type: 'button', onclick: () => silenceForm(form, a) }, 'Silence') : '',
        ]), { caption: 'Pending and firing alerts' }));
    } catch (err) { banner(err.message); }
  });
}

function silenceForm(container, alert) {
  const matchers = [`alertname=${alert.ruleName}`, ...(alert.labels.agent ? [`agent=${alert.labels.agent}`] : [])];
  const duration = h('select', { id: 'silence-for' }, ['1h', '4h', '1d', '7d'].map((d) => h('option', { value: d }, d)));
  const comment = field('Why', { required: true, maxlength: 500, placeholder: 'Planned maintenance' }, null, (v) => (v.trim() ? '' : 'Say why, for whoever sees the silence later.'));
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Create silence');
  const form = h('form', { class: 'stack card', novalidate: true }, h('h2', {}, `Silence ${alert.ruleName}`),
    h('p', {}, 'Matches: ', matchers.join(', ')), h('label', { for: 'silence-for' }, 'For', duration), comment.wrap,
    h('div', { class: 'row' }, submit, h('button', { type: 'button', onclick: () => container.replaceChildren() }, 'Cancel')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!comment.check()) return;
    const hours = { '1h': 1, '4h': 4, '1d': 24, '7d': 168 }[duration.value];
    act(submit, () => post('/api/alerts/silences', { matchers, endsAt: new Date(Date.now() + hours * 3600_000).toISOString(), comment: comment.input.value.trim() }),
      () => { container.replaceChildren(); toast(`Silenced ${alert.ruleName} for ${duration.value}.`); });
  });
  container.replaceChildren(form);
  comment.input.focus();
}

function history(body) {
  const list = h('div', {});
  const kind = h('select', { id: 'history-kind', onchange: () => load() }, h('option', { value: '' }, 'All'), h('option', { value: 'state' }, 'State changes'), h('option', { value: 'notification' }, 'Notifications'));
  body.append(h('label', { for: 'history-kind' }, 'Show', kind), list);
  async function load() {
    try {
      const page = await get(`/api/alerts/history?limit=100${kind.value ? `&kind=${kind.value}` : ''}`);
      list.replaceChildren(page.changes.length === 0 ? empty('No history yet: every state change and notification will be listed here.')
        : table(['When', 'Alert', 'Change', 'Value', 'Detail'], page.changes.map((c) => [when(c.at), c.ruleName,
          c.kind === 'notification' ? h('span', {}, 'notified ', status(c.deliveryState || 'pending')) : h('span', {}, status(c.from), ' → ', status(c.to)),
          number(c.value, 2), c.summary || '']), { caption: 'Alert history' }));
    } catch (err) { banner(err.message); }
  }
  load();
  return () => {};
}

function silences(body, ctx) {
  const list = h('div', {});
  body.append(list);
  return every(15, async () => {
    try {
      const { silences: all } = await get('/api/alerts/silences?expired=true');
      list.replaceChildren(all.length === 0 ? empty('No silences. Silence a firing alert from the Alerts tab.')
        : table(['Matchers', 'State', 'Ends', 'By', 'Why', ''], all.map((s) => [s.matchers.join(', '), status(s.state), when(s.endsAt), s.createdBy, s.comment,
          ctx.can('operator') && s.state !== 'expired' ? h('button', { type: 'button', onclick: (e) => act(e.target, () => del(`/api/alerts/silences/${s.id}`), () => toast('Silence expired.')) }, 'Expire') : '']),
        { caption: 'Silences' }));
    } catch (err) { banner(err.message); }
  });
}

const durationPattern = /^(\d+(ms|s|m|h|d|w))+$/;

function rules(body, ctx) {
  const list = h('div', {});
  const editor = h('div', {});
  body.append(ctx.can('admin') ? h('p', {}, h('button', { type: 'button', class: 'primary', onclick: () => edit(editor, null, load) }, 'New rule')) : null, editor, list);
  async function load() {
    try {
      const { rules: all } = await get('/api/alerts/rules');
      list.replaceChildren(all.length === 0 ? empty('No rules. Create one, e.g. avg(cpu.usage{core=total}[5m]) > 90 for 5m.')
        : table(['Name', 'Condition', 'Severity', 'Enabled', ''], all.map((r) => [r.name, h('code', {}, r.expression), status(r.severity), r.enabled ? 'yes' : 'no',
          ctx.can('admin') ? h('div', { class: 'row' }, h('button', { type: 'button', onclick: () => edit(editor, r, load) }, 'Edit'),
            h('button', { type: 'button', class: 'danger', onclick: (e) => confirm(`Delete the rule “${r.name}”? Its firing alerts resolve.`) && act(e.target, () => del(`/api/alerts/rules/${r.id}`), load) }, 'Delete')) : '']),
        { caption: 'Alert rules' }));
    } catch (err) { banner(err.message); }
  }
  load();
  return () => {};
}

/** The rules editor: validates as you type, previews how often the rule would have fired over the last 24 h. */
function edit(container, rule, saved) {
  const f = {
    name: field('Name', { value: rule?.name ?? '', required: true, maxlength: 100 }, null, (v) => (v.trim() ? '' : 'A rule needs a name.')),
    metric: field('Metric', { value: rule?.metric ?? 'cpu.usage', required: true }, 'e.g. cpu.usage, mem.used_percent, fs.used_percent',
      (v) => (/^[a-z][a-z0-9_.]*$/i.test(v.trim()) ? '' : 'A metric name: letters, digits, dots and underscores.')),
    matchers: field('Label matchers', { value: (rule?.matchers ?? ['core=total']).join(', ') }, 'comma-separated: core=total, mountpoint!~/boot.*',
      (v) => (v.split(',').map((m) => m.trim()).filter(Boolean).every((m) => /^[A-Za-z_][A-Za-z0-9_]*(=|!=|=~|!~).*$/.test(m)) ? '' : 'Each matcher is name=value, name!=value, name=~regex or name!~regex.')),
    aggregation: field('Aggregation', { tag: 'select' }),
    window: field('Window', { value: rule?.window ?? '5m' }, '10s to 6h', (v) => (durationPattern.test(v.trim()) ? '' : 'A duration like 30s, 5m or 1h.')),
    op: field('Comparison', { tag: 'select' }),
    threshold: field('Threshold', { value: rule?.threshold ?? 90, inputmode: 'decimal' }, null, (v) => (v.trim() !== '' && Number.isFinite(Number(v)) ? '' : 'A number.')),
    for: field('For', { value: rule?.for ?? '5m' }, 'how long it must hold before firing (0s: at once)', (v) => (durationPattern.test(v.trim()) ? '' : 'A duration like 0s, 2m or 1h.')),
    severity: field('Severity', { tag: 'select' }),
    summary: field('Summary', { value: rule?.annotations?.summary ?? '{{ $labels.host }} at {{ $value }}' }, 'templates: {{ $labels.name }}, {{ $value }}'),
  };
  for (const a of ['avg', 'max', 'min', 'last', 'rate']) f.aggregation.input.append(h('option', { value: a, selected: (rule?.aggregation ?? 'avg') === a }, a));
  for (const o of ['>', '>=', '<', '<=', '==', '!=']) f.op.input.append(h('option', { value: o, selected: (rule?.op ?? '>') === o }, o));
  for (const s of ['critical', 'warning', 'info']) f.severity.input.append(h('option', { value: s, selected: (rule?.severity ?? 'warning') === s }, s));
  const preview = h('p', { class: 'muted', 'aria-live': 'polite', 'data-preview': '' }, 'The preview appears once the rule is valid.');
  const draft = () => ({
    name: f.name.input.value.trim(), metric: f.metric.input.value.trim(),
    matchers: f.matchers.input.value.split(',').map((m) => m.trim()).filter(Boolean), aggregation: f.aggregation.input.value, window: f.window.input.value.trim(),
    op: f.op.input.value, threshold: Number(f.threshold.input.value), for: f.for.input.value.trim(), severity: f.severity.input.value,
    keepFiringFor: rule?.keepFiringFor ?? '0s', labels: rule?.labels ?? {}, annotations: { ...(rule?.annotations ?? {}), summary: f.summary.input.value }, enabled: rule?.enabled ?? true,
  });
  let timer = null;
  const refreshPreview = () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      if (![f.metric, f.matchers, f.window, f.threshold, f.for].every((x) => x.check())) { preview.textContent = 'Fix the fields above to see the preview.'; return; }
      try {
        const p = await post('/api/alerts/rules/preview', draft());
        preview.textContent = p.series === 0
          ? `No series of ${draft().metric} match in the last 24 h, so it would not have fired.`
          : `Over the last 24 h it would have fired ${p.firings} time${p.firings === 1 ? '' : 's'} on ${p.seriesFiring} of ${p.series} series, for ${number(p.firingMinutes, 0)} minutes in all.`;
      } catch (err) { preview.textContent = err.message; }
    }, 400);
  };
  const submit = h('button', { type: 'submit', class: 'primary' }, rule ? 'Save rule' : 'Create rule');
  const form = h('form', { class: 'stack card', novalidate: true, oninput: refreshPreview, onchange: refreshPreview }, h('h2', {}, rule ? `Edit ${rule.name}` : 'New rule'),
    Object.values(f).map((x) => x.wrap), preview,
    h('div', { class: 'row' }, submit, h('button', { type: 'button', onclick: () => container.replaceChildren() }, 'Cancel')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!Object.values(f).map((x) => x.check()).every(Boolean)) return;
    act(submit, () => (rule ? put(`/api/alerts/rules/${rule.id}`, draft()) : post('/api/alerts/rules', draft())), () => {
      container.replaceChildren();
      toast(rule ? 'Rule saved.' : 'Rule created.');
      saved();
    });
  });
  container.replaceChildren(form);
  refreshPreview();
  f.name.input.focus();
}
