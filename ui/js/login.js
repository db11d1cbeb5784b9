// Sign in with the API token (`api.token_file` on the server). It is kept in this tab's
// session storage only: closing the tab forgets it.
import { api, session, APIError } from './api.js';
import { h, field } from './dom.js';

export function loginView(app, reason, done) {
  document.getElementById('signout').hidden = true;
  document.getElementById('access').textContent = '';
  const token = h('input', { type: 'password', id: 'token', name: 'token', autocomplete: 'off', required: true, size: 40 });
  const message = h('p.muted', { id: 'login-message', role: 'status' }, reason ?? '');
  const readOnly = h('p', { hidden: true },
    h('a', { href: '#/machines', id: 'read-only', onclick: () => { app.loaded = false; } }, 'Continue read-only'),
    ' (this address may read without the token; changes need it).');
  const form = h('form.card', {
    'aria-labelledby': 'login-title',
    onsubmit: async (event) => {
      event.preventDefault();
      session.set(token.value.trim());
      try {
        // From a read network any token reads: only `write` tells the token is the API's.
        const access = await api('GET', '/access');
        if (!access.write) throw new APIError(401, 'refused');
        app.notify(null);
        done();
      } catch (error) {
        session.clear();
        message.textContent = error instanceof APIError && error.status === 401
          ? 'The server refused this token.' : `Cannot sign in: ${error.message}`;
        token.select();
      }
    },
  },
  h('h1', { id: 'login-title' }, 'Sign in'),
  h('p', {}, 'The console changes machines through vboot\'s API. Paste the API token (the contents of the server\'s ',
    h('code', {}, 'api.token_file'), ').'),
  field('API token', token),
  h('p', {}, h('button', { type: 'submit', id: 'signin' }, 'Sign in')),
  message, readOnly);
  // Without a token, reads may still be allowed from this address (`--api-read-network`).
  if (!session.token) {
    api('GET', '/machines').then(() => { readOnly.hidden = false; }, () => {});
  }
  setTimeout(() => token.focus(), 0);
  return { element: form, title: 'Sign in' };
}
