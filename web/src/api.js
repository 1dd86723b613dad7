// @ts-check
/** The server's REST API, as the page uses it. Same origin only; the API key (when the server
 * asks for one) is kept for this tab in sessionStorage and sent as X-API-Key. */

const KEY = 'vitrina.apiKey';
const ARROW = 'application/vnd.apache.arrow.stream';

export class ApiError extends Error {
  constructor(status, message, field) {
    super(message);
    this.status = status;
    this.field = field;
  }
}

function headers(extra = {}) {
  const key = sessionStorage.getItem(KEY);
  return key ? { ...extra, 'X-API-Key': key } : extra;
}

async function request(path, init = {}, retried = false) {
  const response = await fetch(path, { ...init, headers: headers(init.headers) });
  if (response.status === 401 && !retried) {
    const key = window.prompt('This server needs an API key to read. Key:');
    if (key) {
      sessionStorage.setItem(KEY, key.trim());
      // Pictures load through <img>, which sends no headers: the server reads this cookie instead
      // (for reads only). A session cookie for this origin alone, as the sessionStorage entry.
      document.cookie = `vitrina_key=${encodeURIComponent(key.trim())}; path=/; SameSite=Strict`;
      return request(path, init, true);
    }
  }
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    let field;
    try {
      const body = await response.json();
      message = body.error?.message ?? message;
      field = body.error?.field;
    } catch { /* not JSON: keep the status line */ }
    throw new ApiError(response.status, message, field);
  }
  return response;
}

export const getJSON = async (path) => (await request(path)).json();

export const postJSON = async (path, body) =>
  (await request(path, { method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } })).json();

/** A POST whose answer is a file (the Parquet export). */
export const postForBlob = async (path, body) =>
  (await request(path, { method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } })).blob();

export const postForm = async (path, form) => (await request(path, { method: 'POST', body: form })).json();

/**
 * An Arrow stream, reporting progress as bytes arrive (onProgress(received, total or null)).
 * @returns {Promise<Uint8Array>}
 */
export async function getArrow(path, onProgress = () => {}) {
  const response = await request(path, { headers: { Accept: ARROW } });
  const total = Number(response.headers.get('Content-Length')) || null;
  const reader = /** @type {ReadableStream<Uint8Array>} */ (response.body).getReader();
  const parts = [];
  let received = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    received += value.length;
    onProgress(received, total);
  }
  const out = new Uint8Array(received);
  let at = 0;
  for (const part of parts) { out.set(part, at); at += part.length; }
  return out;
}

export const enc = encodeURIComponent;
/** Item ids may hold '/', which the REST routes take as part of the path. */
export const itemPath = (id) => `/v1/items/${id.split('/').map(enc).join('/')}`;
