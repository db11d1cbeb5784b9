// Every call to vboot's API. The token lives in this tab's session storage only and goes out as
// an Authorization header, never a cookie: another site's page cannot make the browser send it.
const KEY = 'vboot.token';

export const session = {
  get token() { return sessionStorage.getItem(KEY); },
  set(token) { sessionStorage.setItem(KEY, token); },
  clear() { sessionStorage.removeItem(KEY); },
};

export class APIError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function authHeaders(extra = {}) {
  const headers = { ...extra };
  const token = session.token;
  if (token) headers.Authorization = `Bearer ${token}`;
  return headers;
}

export async function api(method, path, body) {
  const headers = authHeaders({ Accept: 'application/json' });
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(`/api/v1${path}`, {
    method, headers, cache: 'no-store', credentials: 'omit',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 204) return null;
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new APIError(response.status, data.error || `${response.status} ${response.statusText}`);
  return data;
}

export const machinePath = (mac) => `/machines/${encodeURIComponent(mac)}`;
