// @ts-check
/** Building DOM from data without innerHTML, so nothing in a catalogue can inject markup. */
import { highlightRuns } from './highlight.js';

/**
 * @param {string} tag
 * @param {Record<string, any>} [attrs] on* keys add listeners; other keys set attributes
 * @param {...(Node | string | null | undefined | false)} children
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return el;
}

/** The text with its salient words in <mark>, stronger words more opaque. */
export function highlighted(text, words) {
  return h('p', { class: 'text' }, ...highlightRuns(text, words).map((run) =>
    run.score === null ? run.text : h('mark', { 'data-score': run.score.toFixed(2), class: `w${Math.min(4, Math.ceil(run.score * 4))}` }, run.text)));
}

/** @param {boolean} [eager] load at once (the hover card), not when scrolled into view (long lists) */
export function thumbnail(url, size, alt, eager = false) {
  return url ? h('img', { src: `${url}?size=${size}`, alt, width: size, height: size, loading: eager ? 'eager' : 'lazy', class: 'thumb' })
    : h('div', { class: 'thumb none' }, 'no image');
}

export function metadataChips(metadata, limit = 6) {
  return h('ul', { class: 'chips' }, ...Object.entries(metadata).slice(0, limit).map(([k, v]) =>
    h('li', {}, h('span', { class: 'k' }, k), ' ', Array.isArray(v) ? v.join(', ') : String(v))));
}

/** Trigger a download of `blob` as `name`. */
export function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
