// @ts-check
/** The side panels: hover card, item detail with neighbours per space and "why similar?",
 * search results, and the selection grid. Each renders into its own element from data. */
import { getJSON, itemPath, postForBlob, postJSON } from './api.js';
import { download, h, highlighted, metadataChips, thumbnail } from './dom.js';
import { facetCounts } from './filters.js';

const cards = new Map();

/** The item card, from the server's card endpoint (cached; never computed at hover time). */
export async function card(id) {
  if (!cards.has(id)) cards.set(id, getJSON(`${itemPath(id)}/card`).catch((e) => { cards.delete(id); throw e; }));
  return cards.get(id);
}

/** The card with the salient words the build did not store, computed by the server now (seconds):
 * asked only for the item a user opened, and then what its hover card shows too. */
async function computedCard(id) {
  const c = await getJSON(`${itemPath(id)}/card?compute=true`);
  cards.set(id, Promise.resolve(c));
  return c;
}

/** Salient words for a map of `space`: its own, else the first text space's. */
function salientFor(c, space) {
  return (c.salient.find((s) => s.space === space) ?? c.salient[0])?.words ?? [];
}

export function renderCard(el, c, space) {
  el.replaceChildren(
    thumbnail(c.image_url, 128, c.title, true),
    h('div', {}, h('h3', {}, c.title || c.id), metadataChips(c.metadata, 4), highlighted(c.text, salientFor(c, space))),
  );
  el.dataset.id = c.id;
}

/**
 * @param {HTMLElement} el
 * @param {{id: string, space: string, spaces: string[], onPick: (id: string) => void,
 *   onNeighbours: (space: string, ids: string[]) => void, attribute?: string}} opts
 *   attribute: a label to show beside each neighbour (the outlier review's)
 */
export async function renderDetail(el, { id, space, spaces, onPick, onNeighbours, attribute }) {
  const c = await card(id);
  const lists = h('div', { class: 'neighbours' });
  const why = h('div', { class: 'why', 'aria-live': 'polite' });
  let text = highlighted(c.text, salientFor(c, space));
  el.replaceChildren(
    h('h2', {}, c.title || c.id, h('button', { class: 'close', title: 'Close (Esc)', 'aria-label': 'Close', onclick: () => onPick('') }, '×')),
    thumbnail(c.image_url, 256, c.title), metadataChips(c.metadata, 20), text, lists, why,
  );
  el.dataset.id = id;
  if (c.text && !c.salient.length) {
    // Not precomputed by the build: the words arrive when the server has explained the text.
    text.setAttribute('aria-busy', 'true');
    computedCard(id).then((full) => {
      if (el.dataset.id !== id) return;
      const marked = highlighted(full.text, salientFor(full, space));
      text.replaceWith(marked);
      text = marked;
    }).catch(() => text.removeAttribute('aria-busy'));
  }
  const order = [space, ...spaces.filter((s) => s !== space)].filter((s) => c.spaces.includes(s));
  await Promise.all(order.map(async (s) => {
    const hits = (await getJSON(`${itemPath(id)}/neighbours?space=${encodeURIComponent(s)}&k=10`)).hits;
    if (s === space) onNeighbours(s, hits.map((hit) => hit.id));
    lists.append(h('section', { 'data-space': s }, h('h3', {}, `Nearest in ${s}`),
      h('ol', { class: 'hits' }, ...hits.map((hit) => h('li', { 'data-id': hit.id },
        h('button', { class: 'pick', onclick: () => onPick(hit.id) }, thumbnail(hit.image_url, 40, ''), ` ${hit.title || hit.id} `),
        attribute ? h('span', { class: 'label' }, String(hit.metadata[attribute] ?? '–')) : null,
        h('span', { class: 'score' }, hit.score.toFixed(3)),
        h('button', { class: 'why-button', onclick: () => explainPair(why, s, id, hit.id) }, 'why similar?'))))));
  }));
  // Sections arrive in any order; keep the map's space first.
  for (const s of order) { const sec = lists.querySelector(`section[data-space="${CSS.escape(s)}"]`); if (sec) lists.append(sec); }
}

/** "Why similar?": words on both texts, heatmaps on both pictures, shared metadata, ranks. */
export async function explainPair(el, space, item, target) {
  el.replaceChildren(h('p', { class: 'busy' }, `Explaining ${item} ↔ ${target} in ${space}…`));
  let view;
  try {
    view = await postJSON('/v1/explain', { space, item, target, steps: 20 });
  } catch (e) {
    el.replaceChildren(h('p', { class: 'error' }, `No explanation: ${e.message}`));
    return;
  }
  const meta = view.metadata;
  el.replaceChildren(
    h('h3', {}, `Why ${target} is near ${item} in ${space}`, view.similarity != null ? ` (${view.similarity.toFixed(3)})` : ''),
    ...view.words.map((w) => h('div', { class: 'words', 'data-side': w.side },
      h('h4', {}, `${w.side === 'item' ? item : target}: words toward the ${w.against}`),
      highlighted(w.text, w.words.filter((x) => x.normalised > 0).map((x) => ({ ...x, score: Math.min(1, x.normalised * 3) }))))),
    h('div', { class: 'heatmaps' }, ...view.heatmaps.map((m) =>
      h('figure', { 'data-side': m.side }, h('img', { src: m.png_url, alt: `heatmap of ${m.id}`, class: 'heatmap' }), h('figcaption', {}, m.id)))),
    meta ? h('div', { class: 'shared' }, h('h4', {}, 'Shared'), metadataChips(meta.shared, 20)) : null,
    meta ? h('table', { class: 'ranks' }, h('tr', {}, h('th', {}, 'space'), h('th', {}, 'similarity'), h('th', {}, 'rank')),
      ...meta.spaces.map((s) => h('tr', {}, h('td', {}, s.space), h('td', {}, s.similarity?.toFixed(3) ?? '–'),
        h('td', {}, s.rank ? `${s.rank} of ${s.of}` : (s.note ?? '–'))))) : null,
    ...Object.entries(view.skipped).map(([k, why]) => h('p', { class: 'note' }, `${k}: ${why}`)),
  );
}

/** The search results, a keyboard-navigable list mirroring the rings (↑/↓ move, Enter opens). */
export function renderResults(el, hits, { onFocus, onPick, title }) {
  const items = hits.map((hit, rank) => h('li', {
    tabindex: 0, 'data-id': hit.id, role: 'option',
    onfocus: () => onFocus(hit.id), onclick: () => onPick(hit.id),
    onkeydown: listKeys(() => onPick(hit.id)),
  }, h('span', { class: 'rank' }, String(rank + 1)), thumbnail(hit.image_url, 40, ''), ` ${hit.title || hit.id} `, h('span', { class: 'score' }, hit.score.toFixed(3))));
  el.replaceChildren(...(hits.length ? [h('h2', {}, title), h('ol', { class: 'results', role: 'listbox', 'aria-label': title }, ...items)] : []));
}

/** The lasso selection: counts per facet, a thumbnail grid, its ids as CSV and the items as Parquet. */
export function renderSelection(el, { ids, rows, columns, space, onPick, onClear }) {
  if (!ids.length) { el.replaceChildren(); return; }
  const facets = Object.entries(columns).filter(([, c]) => c.kind === 'categorical' || c.kind === 'tags').map(([name, c]) =>
    h('div', { class: 'facet' }, h('h4', {}, name), h('ul', { class: 'chips' }, ...facetCounts(c, rows).slice(0, 8).map((f) =>
      h('li', {}, `${f.value} `, h('span', { class: 'count' }, String(f.count)))))));
  el.replaceChildren(
    h('h2', {}, `Selection: ${ids.length}`,
      h('button', { onclick: () => download(new Blob(['id\n' + ids.map(csvCell).join('\n') + '\n'], { type: 'text/csv' }), 'selection.csv') }, 'CSV'),
      h('button', { title: 'ids, titles, texts, map positions and metadata', onclick: async () =>
        download(await postForBlob('/v1/items/export', { ids, space }), 'selection.parquet') }, 'Parquet'),
      h('button', { onclick: onClear }, 'Clear')),
    ...facets,
    h('div', { class: 'grid' }, ...ids.slice(0, 120).map((id) => h('button', { class: 'cell', title: id, onclick: () => onPick(id) },
      h('img', { src: `${itemPath(id)}/image?size=64`, alt: id, width: 64, height: 64, loading: 'lazy' })))),
  );
}

/** Keys of a row in a focusable list: ↑/↓ move to the row above or below, Enter opens it. */
function listKeys(open) {
  return (ev) => {
    const next = ev.key === 'ArrowDown' ? ev.currentTarget.nextElementSibling : ev.key === 'ArrowUp' ? ev.currentTarget.previousElementSibling : null;
    if (next) { ev.preventDefault(); next.focus(); }
    if (ev.key === 'Enter') open();
  };
}

function csvCell(value) {
  return /[",\n\r]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/**
 * The curator's review list: items whose label disagrees with most of their neighbours in this
 * space, most confident first. A row opens the item with its neighbours' labels shown.
 */
export function renderOutliers(el, view, { onPick, onClose }) {
  const rows = view.outliers.map((o) => h('li', { 'data-id': o.id, tabindex: 0, role: 'option',
    onclick: () => onPick(o.id, o.attribute),
    onkeydown: listKeys(() => onPick(o.id, o.attribute)) },
  thumbnail(o.image_url, 40, ''),
  h('span', {}, h('strong', {}, o.title || o.id), h('br'),
    `${o.attribute}: labelled “${o.label}”, ${Math.round(o.majority_share * 100)}% of its neighbours say “${o.majority_label}”`),
  h('span', { class: 'score' }, o.confidence.toFixed(2))));
  el.replaceChildren(
    h('h2', {}, `Label outliers in ${view.space}: ${view.total}`, h('button', { class: 'close', 'aria-label': 'Close', onclick: onClose }, '×')),
    rows.length ? h('ol', { class: 'results outliers', role: 'listbox', 'aria-label': 'label outliers' }, ...rows)
      : h('p', { class: 'note' }, 'No item here carries a label its neighbours disagree with.'),
  );
}
