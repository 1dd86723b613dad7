// @ts-check
/** The colour legend (a click on a category filters by it) and the filter facets. */
import { h } from './dom.js';
import { byFrequency, categoryColour, continuousColour, PALETTE } from './colours.js';
import { facetCounts } from './filters.js';

const MAX_CHIPS = 12;

/**
 * Colour values for the renderer from a column: categorical ranks by frequency, or numbers
 * scaled to [0, 1]. Returns what the legend lists too.
 */
export function colourEncoding(column, rows) {
  if (!column || column.kind === 'tags') {
    return { values: new Float32Array(rows), colours: [PALETTE[0]], continuous: false, entries: [] };
  }
  if (column.kind === 'numeric') {
    let min = Infinity; let max = -Infinity;
    for (const v of column.values) if (Number.isFinite(v)) { if (v < min) min = v; if (v > max) max = v; }
    const span = max - min || 1;
    const values = Float32Array.from(column.values, (v) => (Number.isFinite(v) ? (v - min) / span : 0));
    return { values, colours: Array.from({ length: 64 }, (_, i) => continuousColour(i / 63)), continuous: true, min, max, entries: [] };
  }
  const { order, counts, rankOf } = byFrequency(column.codes, column.dictionary.length);
  const shown = Math.min(order.length, PALETTE.length);
  // Rank `shown` is "other": past the palette every category shares the grey.
  const values = Float32Array.from(column.codes, (c) => (c < 0 ? shown : Math.min(rankOf[c], shown)));
  const colours = [...PALETTE.slice(0, shown), categoryColour(-1)];
  const entries = order.slice(0, shown).map((code, rank) => ({ value: column.dictionary[code], count: counts[code], colour: colours[rank] }));
  const rest = counts.reduce((a, b) => a + b, 0) - entries.reduce((a, e) => a + e.count, 0) + Array.from(column.codes).filter((c) => c < 0).length;
  if (rest) entries.push({ value: null, count: rest, colour: categoryColour(-1) });
  return { values, colours, continuous: false, entries };
}

export function renderLegend(el, name, encoding, { active, onToggle }) {
  if (encoding.continuous) {
    el.replaceChildren(h('h2', {}, name), h('div', { class: 'ramp', 'aria-hidden': 'true' }),
      h('div', { class: 'ramp-labels' }, h('span', {}, fmt(encoding.min)), h('span', {}, fmt(encoding.max))));
    return;
  }
  el.replaceChildren(h('h2', {}, name), h('ul', { class: 'legend' }, ...encoding.entries.map((e) => h('li', {},
    h('button', {
      class: active.includes(e.value) ? 'on' : '', 'aria-pressed': active.includes(e.value) ? 'true' : 'false', disabled: e.value === null,
      title: e.value === null ? 'every other value' : `show only ${e.value} (click again to undo)`,
      onclick: () => e.value !== null && onToggle(e.value),
    }, h('span', { class: 'swatch', 'data-colour': e.colour }), ` ${e.value ?? 'other'} `, h('span', { class: 'count' }, String(e.count)))))));
  // Colours set as properties: the CSP forbids inline style attributes.
  el.querySelectorAll('.swatch').forEach((s) => { /** @type {HTMLElement} */ (s).style.background = s.getAttribute('data-colour') || ''; });
}

/**
 * Facet chips for categoricals and tags (counts within `rows`), and min/max boxes for numbers.
 * @param {HTMLElement} el
 */
export function renderFacets(el, catalogue, columns, rows, { filters, ranges, onToggle, onRange }) {
  const title = (name) => name.replace(/^@/, '');
  const parts = [h('h2', {}, 'Filters')];
  for (const info of catalogue) {
    const column = columns[info.name];
    if (!column) continue;
    if (column.kind === 'numeric') {
      const [lo, hi] = ranges[info.name] ?? [info.min, info.max];
      const box = (value, which) => h('input', { type: 'number', value, step: 'any', 'aria-label': `${info.name} ${which}`,
        onchange: (ev) => onRange(info.name, which, Number(ev.target.value)) });
      parts.push(h('div', { class: 'facet', 'data-column': info.name }, h('h3', {}, title(info.name)), box(lo, 'min'), ' – ', box(hi, 'max')));
      continue;
    }
    const chosen = filters[info.name] ?? [];
    const counts = facetCounts(column, rows);
    const shown = [...chosen.filter((v) => !counts.some((c) => c.value === v)).map((value) => ({ value, count: 0 })), ...counts].slice(0, MAX_CHIPS);
    parts.push(h('div', { class: 'facet', 'data-column': info.name }, h('h3', {}, title(info.name)), h('ul', { class: 'chips' }, ...shown.map((c) =>
      h('li', {}, h('button', { class: chosen.includes(c.value) ? 'chip on' : 'chip', 'aria-pressed': chosen.includes(c.value) ? 'true' : 'false',
        'data-value': c.value, onclick: () => onToggle(info.name, c.value) }, `${c.value} `, h('span', { class: 'count' }, String(c.count))))))));
  }
  el.replaceChildren(...parts);
}

function fmt(v) {
  return Number.isInteger(v) ? String(v) : v.toPrecision(4);
}
