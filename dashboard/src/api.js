// The API client: the base URL from config.json (written at deploy time; empty = this origin), the session (access
// and refresh tokens in sessionStorage: a tab's sign-in ends with the tab), refresh rotation on an expired token,
// conditional GETs (If-None-Match) so idle polling is cheap, and problem+json turned into sentences people understand.

let base = '';
const store = window.sessionStorage;
const etags = new Map();
let refreshing = null;
let onSignedOut = () => {};

export async function configure(signedOut) {
  onSignedOut = signedOut;
  try {
    const res = await fetch('config.json', { cache: 'no-store' });
    if (res.ok) base = (await res.json()).apiBaseUrl || '';
  } catch { /* same origin */ }
}

export const url = (path) => new URL(path.replace(/^\//, ''), base || document.baseURI).toString();

export const session = {
  get access() { return store.getItem('sentinel.access'); },
  get refresh() { return store.getItem('sentinel.refresh'); },
  get me() { try { return JSON.parse(store.getItem('sentinel.me') || 'null'); } catch { return null; } },
  save(tokens) {
    store.setItem('sentinel.access', tokens.access_token);
    store.setItem('sentinel.refresh', tokens.refresh_token);
  },
  remember(me) { store.setItem('sentinel.me', JSON.stringify(me)); },
  clear() { for (const k of ['sentinel.access', 'sentinel.refresh', 'sentinel.me']) store.removeItem(k); etags.clear(); },
};

/** An error from the API, with a sentence for people (message), the problem type's slug and the raw problem. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(sentence(status, problem));
    this.status = status;
    this.slug = (problem?.type || '').split(':').pop() || null;
    this.problem = problem;
  }
}

const sentences = {
  'invalid-credentials': 'That email and password do not match an account.',
  'login-locked': 'Too many failed sign-ins for this account from your address. Wait a few minutes and try again.',
  'abnormal-usage-detected': 'Too many failed sign-ins came from your address, so it is blocked from signing in for a while.',
  'quota-exceeded': 'You are sending requests faster than your quota allows. Wait a moment and try again.',
  'forbidden': 'Your role does not allow this. Ask an admin of your team.',
  'account-disabled': 'This account has been disabled by an administrator.',
  'unavailable': 'A service Sentinel depends on is not answering right now. Nothing was changed; try again shortly.',
  'edit-conflict': 'Someone changed this while you were editing it. Reload to see their change, then apply yours again.',
  'internal-error': 'Something went wrong on our side. Nothing you did caused it; try again, and tell your admin if it keeps happening.',
  'not-found': 'That item no longer exists. It may have been deleted.',
  'not-dead': 'Only dead letters can be replayed; this delivery is pending or already delivered.',
  'limit-reached': 'Your team has reached the limit for this kind of item. Remove one you no longer need first.',
};

function sentence(status, problem) {
  const slug = (problem?.type || '').split(':').pop();
  if (slug === 'validation-failed' || slug === 'bad-request') {
    const field = problem?.title?.replace(/^Invalid /, '');
    return problem?.detail ? `Please check ${field ? `“${field}”` : 'the form'}: ${problem.detail}` : 'Please check the form.';
  }
  if (slug?.endsWith('-taken')) return problem?.detail || 'That name is already used; choose another.';
  if (sentences[slug]) {
    const retry = problem?.retryAfter;
    return sentences[slug] + (retry ? ` (about ${Math.ceil(retry / 60)} min)` : '');
  }
  if (problem?.detail) return problem.detail;
  if (status === 0) return 'Sentinel could not be reached. Check your connection; the page retries by itself.';
  return `The request failed (HTTP ${status}).`;
}

async function refreshTokens() {
  const token = session.refresh;
  if (!token) return false;
  refreshing ??= (async () => {
    try {
      const res = await fetch(url('/api/auth/refresh'), {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refreshToken: token }),
      });
      if (!res.ok) return false;
      session.save(await res.json());
      return true;
    } catch { return false; } finally { setTimeout(() => { refreshing = null; }, 0); }
  })();
  return refreshing;
}

/**
 * Calls the API. GETs send If-None-Match with the ETag last seen for the URL and return the cached body on 304
 * (`fresh: false`). A 401 on an expired token refreshes once and retries; a failed refresh signs out.
 */
export async function call(method, path, body, { conditional = false, anonymous = false } = {}) {
  const target = url(path);
  for (let attempt = 0; attempt < 2; attempt++) {
    const headers = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (!anonymous && session.access) headers.authorization = `Bearer ${session.access}`;
    const cached = conditional ? etags.get(target) : null;
    if (cached) headers['if-none-match'] = cached.etag;
    let res;
    try {
      res = await fetch(target, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch {
      throw new ApiError(0, null);
    }
    if (res.status === 304 && cached) return { body: cached.body, fresh: false, headers: res.headers };
    if (res.status === 401 && !anonymous && attempt === 0 && session.refresh) {
      if (await refreshTokens()) continue;
      session.clear();
      onSignedOut('Your session has expired. Sign in again to continue.');
      throw new ApiError(401, { type: 'urn:problem:sentinel:session-expired', detail: 'Your session has expired. Sign in again to continue.' });
    }
    const text = await res.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { json = null; }
    if (!res.ok) {
      const problem = json || {};
      const retry = res.headers.get('retry-after');
      if (retry) problem.retryAfter = Number(retry);
      throw new ApiError(res.status, problem);
    }
    const etag = res.headers.get('etag');
    if (conditional && etag) etags.set(target, { etag, body: json });
    return { body: json, fresh: true, headers: res.headers };
  }
  throw new ApiError(401, null);
}

export const get = (path, options) => call('GET', path, undefined, options).then((r) => r.body);
export const post = (path, body, options) => call('POST', path, body ?? {}, options).then((r) => r.body);
export const put = (path, body) => call('PUT', path, body).then((r) => r.body);
export const patch = (path, body) => call('PATCH', path, body).then((r) => r.body);
export const del = (path) => call('DELETE', path).then((r) => r.body);
