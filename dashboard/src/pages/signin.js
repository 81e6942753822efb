import { post, session, ApiError } from '../api.js';
import { banner, field, h } from '../ui.js';

export async function signin(main, { message, done }) {
  const email = field('Email', { type: 'email', autocomplete: 'username', required: true, name: 'email' }, null,
    (v) => (/^[^@\s]+@[^@\s]+$/.test(v.trim()) ? '' : 'Enter the email address you were invited with.'));
  const password = field('Password', { type: 'password', autocomplete: 'current-password', required: true, name: 'password' }, null,
    (v) => (v.length > 0 ? '' : 'Enter your password.'));
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h('form', { class: 'stack card', novalidate: true }, email.wrap, password.wrap, submit);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (![email.check(), password.check()].every(Boolean)) return;
    submit.disabled = true;
    try {
      session.save(await post('/api/auth/token', { email: email.input.value.trim(), password: password.input.value }, { anonymous: true }));
      banner('');
      done();
    } catch (err) {
      banner(err instanceof ApiError ? err.message : String(err));
      password.input.value = '';
      password.input.focus();
    } finally {
      submit.disabled = false;
    }
  });
  main.replaceChildren(h('section', { class: 'signin' }, h('h1', {}, 'Sign in to Sentinel'),
    message ? h('p', { role: 'status' }, message) : null, form,
    h('p', { class: 'muted' }, 'First time here? `make run` prints the first admin\'s login; in Azure, `azd up` prints it.')));
  email.input.focus();
}
