// Small DOM helpers: h() builds elements (text is always text, never HTML), banners, toasts, empty states, formats.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function banner(message) {
  const el = document.getElementById('banner');
  el.textContent = message || '';
  el.hidden = !message;
}

export function toast(message) {
  const box = document.getElementById('toast');
  const msg = h('div', { class: 'msg' }, message);
  box.append(msg);
  setTimeout(() => msg.remove(), 6000);
}

export const empty = (...text) => h('p', { class: 'empty' }, ...text);

export const status = (value, label) => h('span', { class: `status ${value}` }, label ?? value);

export function table(columns, rows, { caption } = {}) {
  return h('div', { class: 'table-wrap' }, h('table', {},
    caption ? h('caption', { class: 'sr-only' }, caption) : null,
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, r.map((cell) => h('td', {}, cell)))))));
}

export function ago(time) {
  if (!time) return 'never';
  const s = Math.round((Date.now() - new Date(time).getTime()) / 1000);
  if (s < 5) return 'just now';
  if (s < 90) return `${s} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 172800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} days ago`;
}

export const when = (time) => (time ? new Date(time).toLocaleString() : '—');

export function number(v, digits = 1) {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  return Number(v).toLocaleString(undefined, { maximumFractionDigits: digits });
}

/** Runs an action from a button: disables it meanwhile, shows the API's sentence in the banner on failure. */
export async function act(button, action, done) {
  if (button) button.disabled = true;
  try {
    const result = await action();
    banner('');
    if (done) done(result);
    return result;
  } catch (err) {
    banner(err.message);
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

/** A labelled input; validate(value) returns an error sentence or ''. The label is the label alone (its accessible
 * name); the hint and the error are described-by text. */
export function field(label, attrs, hint, validate) {
  const input = h(attrs.tag || 'input', { ...attrs, tag: undefined });
  const id = attrs.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  const error = h('span', { class: 'field-error', id: `${id}-error`, 'aria-live': 'polite' });
  const note = hint ? h('span', { class: 'hint', id: `${id}-hint` }, hint) : null;
  input.setAttribute('aria-describedby', [note ? note.id : null, error.id].filter(Boolean).join(' '));
  const check = () => {
    const message = validate ? validate(input.value) : '';
    error.textContent = message;
    input.setAttribute('aria-invalid', message ? 'true' : 'false');
    return !message;
  };
  if (validate) input.addEventListener('input', check);
  const wrap = h('div', { class: 'field' }, h('label', { for: id }, label), note, input, error);
  return { wrap, input, check };
}
