// @ts-check
/** The page's whole state in the URL hash, so a link reopens the same view before first paint.
 * The hash is plain URLSearchParams: readable, and safe to paste in a chat or a ticket. */

export const DEFAULTS = Object.freeze({
  space: '',
  method: '',
  colour: 'cluster',
  query: '',
  qspace: 'text',
  item: '',
  theme: '',
  compare: '',
  since: '',
  contours: false,
  /** @type {Record<string, string[]>} */ filters: {},
  /** @type {Record<string, [number, number]>} */ ranges: {},
  /** @type {string[]} */ selection: [],
  /** @type {number[] | null} camera target x, y and distance */ camera: null,
});

// Plain text fields, in the hash under their own names.
const KEYS = ['space', 'method', 'colour', 'query', 'qspace', 'item', 'theme', 'compare', 'since'];

/** @param {Partial<typeof DEFAULTS>} state @returns {string} the hash, without '#' */
export function encodeState(state) {
  const s = { ...DEFAULTS, ...state };
  const p = new URLSearchParams();
  for (const key of KEYS) {
    if (s[key] && s[key] !== DEFAULTS[key]) p.set(key, s[key]);
  }
  for (const [name, values] of Object.entries(s.filters).sort()) {
    if (values.length) p.append('f', `${name}:${values.map(encodeURIComponent).join(',')}`);
  }
  for (const [name, [lo, hi]] of Object.entries(s.ranges).sort()) p.append('r', `${name}:${lo}..${hi}`);
  if (s.contours) p.set('dens', '1');
  if (s.selection.length) p.set('sel', s.selection.map(encodeURIComponent).join(','));
  if (s.camera) p.set('cam', s.camera.map((v) => +v.toFixed(5)).join(','));
  return p.toString();
}

/** @param {string} hash with or without '#' @returns {typeof DEFAULTS} */
export function decodeState(hash) {
  const p = new URLSearchParams(hash.replace(/^#/, ''));
  /** @type {any} */
  const s = { ...DEFAULTS, filters: {}, ranges: {}, selection: [], camera: null };
  for (const key of KEYS) {
    const value = p.get(key);
    if (value) s[key] = value;
  }
  for (const f of p.getAll('f')) {
    const at = f.indexOf(':');
    if (at > 0) s.filters[f.slice(0, at)] = f.slice(at + 1).split(',').filter(Boolean).map(decodeURIComponent);
  }
  for (const r of p.getAll('r')) {
    const match = /^(.+):(-?[\d.e+-]+)\.\.(-?[\d.e+-]+)$/.exec(r);
    if (match && Number.isFinite(+match[2]) && Number.isFinite(+match[3])) s.ranges[match[1]] = [+match[2], +match[3]];
  }
  s.contours = p.get('dens') === '1';
  const sel = p.get('sel');
  if (sel) s.selection = sel.split(',').filter(Boolean).map(decodeURIComponent);
  const cam = (p.get('cam') || '').split(',').map(Number);
  if (cam.length === 3 && cam.every(Number.isFinite) && cam[2] > 0) s.camera = cam;
  return s;
}
