// @ts-check
/** The web map: boots from the URL state, loads a space's map from the Arrow endpoints, and
 * wires the renderer, overlay and panels together. `window.vitrinaMap` is the page's test hook. */
import { enc, getArrow, getJSON, itemPath, postForm, postJSON } from './api.js';
import { decodeArrow } from './arrow.js';
import { h } from './dom.js';
import { filterMask, maskIndices } from './filters.js';
import { colourEncoding, renderFacets, renderLegend } from './legend.js';
import { createCompare } from './compare.js';
import { sinceVersion } from './versions.js';
import { densityContours } from './density.js';
import { createOverlay } from './overlay.js';
import { card, renderCard, renderDetail, renderOutliers, renderResults, renderSelection } from './panels.js';
import { exportPng, showFallback } from './pictures.js';
import { wireKeys } from './keys.js';
import { createRenderer, hasWebGL } from './renderer.js';
import { decodeState, encodeState } from './url_state.js';
import { mapToScreen, referenceRows } from './screen.js';

const CLUSTER = '@cluster';
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const state = decodeState(location.hash);
const reducedMotion = matchMedia('(prefers-reduced-motion: reduce)').matches;
const errors = [];
document.addEventListener('securitypolicyviolation', (ev) => errors.push(`CSP: ${ev.violatedDirective} ${ev.blockedURI}`));
window.addEventListener('error', (ev) => errors.push(String(ev.message)));

/** @type {{ids: string[], rowOf: Map<string, number>, rows: number, x: Float32Array, y: Float32Array,
 *   columns: Record<string, any>, hasImage: Uint8Array, reference: number[] | null}} */
const data = { ids: [], rowOf: new Map(), rows: 0, x: new Float32Array(0), y: new Float32Array(0), columns: {},
  hasImage: new Uint8Array(0), reference: null };
let bundle; let catalogue = []; let renderer; let overlay; let visibleRows = [];
/** The rows the filters keep; null while no filter is set (everything is drawn). */
let filtered = null;
let hits = []; let neighbourRows = [];
/** @type {any} the second, linked map (compare.js), when one is open */ let compare = null;
let lastColours = { values: new Float32Array(0), colours: [], continuous: false };

applyTheme();
const ready = boot().catch((e) => { errors.push(String(e)); $('progress').textContent = `Could not load the map: ${e.message}`; throw e; });
window.vitrinaMap = {
  ready,
  state: () => JSON.parse(JSON.stringify(state)),
  drawnCount: () => renderer?.drawnCount() ?? 0,
  screenXY: (id) => { const p = renderer?.screenXY(data.rowOf.get(id)); const r = $('map').getBoundingClientRect(); return p && [p[0] + r.left, p[1] + r.top]; },
  selection: () => (renderer?.selection() ?? []).map((i) => data.ids[i]),
  lastLasso: () => renderer?.lastLasso(),
  rings: () => (overlay?.rings() ?? []).map((i) => data.ids[i]),
  labels: () => overlay?.placedLabels() ?? [],
  contours: () => overlay?.contours() ?? [],
  newSince: () => (overlay?.marked() ?? []).map((i) => data.ids[i]),
  compare: () => compare && { space: compare.space, focused: compare.focused(), selection: compare.selection(),
    rings: compare.rings(), drawnCount: compare.drawnCount() },
  compareXY: (id) => compare?.screenXY(id),
  thumbnailsDrawn: () => overlay?.thumbnailsDrawn() ?? 0,
  errors: () => errors.slice(),
  /** Pixels the map canvas has drawn (the background is the page's, behind it). */
  paintedPixels: () => {
    const c = /** @type {HTMLCanvasElement} */ ($('map'));
    const d = /** @type {CanvasRenderingContext2D} */ (c.getContext('2d')).getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n += 1;
    return n;
  },
};

/** A failed action says why where the map's progress shows, and stays in the test hook. */
function report(e) {
  errors.push(String(e));
  $('progress').hidden = false;
  $('progress').textContent = e.message ?? String(e);
}

function applyTheme() {
  const dark = state.theme ? state.theme === 'dark' : matchMedia('(prefers-color-scheme: dark)').matches;
  document.documentElement.dataset.theme = dark ? 'dark' : 'light';
}
const background = () => getComputedStyle(document.documentElement).getPropertyValue('--map-bg').trim();

function saveState() {
  history.replaceState(null, '', `#${encodeState(state)}`);
}

async function boot() {
  bundle = await getJSON('/v1/bundle');
  $('version').textContent = `${bundle.collection} · ${bundle.version}`;
  const mapped = bundle.spaces.map((s) => s.name);
  if (!mapped.includes(state.space)) state.space = mapped[0];
  $('space').replaceChildren(...mapped.map((s) => h('option', { value: s, selected: s === state.space }, s)));
  $('qspace').replaceChildren(...bundle.spaces.filter((s) => s.query_modalities.includes('text')).map((s) =>
    h('option', { value: s.name, selected: s.name === state.qspace }, s.name)));
  catalogue = (await getJSON('/v1/columns')).columns;
  if (!hasWebGL()) return showFallback(state.space, document.documentElement.dataset.theme);
  renderer = createRenderer(/** @type {HTMLCanvasElement} */ ($('map')), { background: background(), reducedMotion });
  overlay = createOverlay(/** @type {HTMLCanvasElement} */ ($('overlay')), renderer,
    (i) => (data.ids[i] && data.hasImage[i] ? `${itemPath(data.ids[i])}/image?size=64` : null), toScreen);
  renderer.on('view', () => { overlay.draw(); cameraChanged(); });
  renderer.on('hover', hover);
  renderer.on('out', () => { clearTimeout(hoverTimer); $('card').hidden = true; });
  renderer.on('click', (i) => pick(data.ids[i]));
  renderer.on('lasso', (rows) => { state.selection = rows.map((i) => data.ids[i]); selectionChanged(); });
  wireControls();
  await loadSpace(false);
  await renderer.whenPickable();
  performance.mark('vitrina:ready');
}


async function loadSpace(transition) {
  const space = state.space;
  const spaceInfo = await getJSON(`/v1/spaces/${enc(space)}/clusters`).catch(() => ({ clusters: [] }));
  const q = state.method ? `method=${enc(state.method)}&` : '';
  const progress = (got, total) => { $('progress').textContent = `Loading map… ${total ? Math.round((100 * got) / total) + '%' : `${Math.round(got / 1024)} KB`}`; };
  $('progress').hidden = false;
  const first = decodeArrow(await getArrow(`/v1/spaces/${enc(space)}/projection?${q}columns=x,y,cluster`, progress));
  const meta = first.metadata;
  state.method = meta.method;
  const sameRows = first.rows === data.rows;
  Object.assign(data, { rows: first.rows, x: first.columns.x, y: first.columns.y });
  data.reference = referenceRows(data.x, data.y);
  await renderer.setPoints(data.x, data.y, transition && sameRows);
  $('progress').hidden = true;
  if (!performance.getEntriesByName('vitrina:first-paint').length) performance.mark('vitrina:first-paint');
  // First paint done; ids and metadata follow.
  const [ids, columns] = await Promise.all([
    getArrow(`/v1/spaces/${enc(space)}/projection?${q}columns=id`).then(decodeArrow),
    getArrow(`/v1/spaces/${enc(space)}/columns`).then(decodeArrow),
  ]);
  data.ids = Array.from(ids.columns.id);
  data.hasImage = spaceHasImages(space) ? new Uint8Array(data.ids.length).fill(1) : new Uint8Array(data.ids.length);
  overlay.forgetThumbnails();
  data.rowOf = new Map(data.ids.map((id, i) => [id, i]));
  const names = new Map(spaceInfo.clusters.filter((c) => c.method === meta.clustering).map((c) => [c.cluster, c]));
  data.columns = { ...columns.columns, [CLUSTER]: clusterColumn(first.columns.cluster, names) };
  const methods = (meta.methods || meta.method).split(',');
  $('method').replaceChildren(...methods.map((m) => h('option', { value: m, selected: m === state.method }, m)));
  $('colour').replaceChildren(h('option', { value: 'cluster' }, `cluster (${meta.clustering || 'none'})`),
    ...catalogue.filter((c) => c.kind === 'categorical' || c.kind === 'numeric').map((c) => h('option', { value: c.name }, c.name)),
    hits.length ? h('option', { value: 'score' }, 'query score') : null);
  /** @type {HTMLSelectElement} */ ($('colour')).value = state.colour;
  overlay.setClusterLabels([...names.values()].filter((c) => c.cluster >= 0 && c.representatives.length).map((c) => ({
    text: c.name, priority: c.size, anchor: data.rowOf.get(c.representatives[0].id) ?? -1 })).filter((l) => l.anchor >= 0));
  await applyColour();
  await applyFilters();
  if (state.selection.length) renderer.select(state.selection.map((id) => data.rowOf.get(id)).filter((i) => i !== undefined));
  selectionChanged();
  if (state.camera) renderer.setCamera(state.camera);
  await openCompare();
  await applySince();
  if (state.query) await search(state.query);
  if (state.item) await pick(state.item);
}

/** Points move from where state.since had them to where they are; items it lacked are marked. */
async function applySince() {
  /** @type {HTMLSelectElement} */ ($('since')).value = state.since;
  if (!state.since) { overlay.setMarked([]); return; }
  const { fromX, fromY, newRows } = await sinceVersion({ space: state.space, method: state.method, version: state.since,
    ids: data.ids, x: data.x, y: data.y });
  await renderer.setPoints(fromX, fromY);
  await renderer.setPoints(data.x, data.y, true);
  overlay.setMarked(newRows);
}

/** The second map (state.compare), linked to this one by item id. */
async function openCompare() {
  compare?.close();
  compare = null;
  const other = state.compare && state.compare !== state.space ? state.compare : '';
  $('pane2-title').textContent = other;
  /** @type {HTMLSelectElement} */ ($('compare')).value = other;
  if (!other) { $('pane2').hidden = true; await renderer.reset(false); return; }
  compare = await createCompare({
    pane: $('pane2'), canvas: /** @type {HTMLCanvasElement} */ ($('map2')), overlayCanvas: /** @type {HTMLCanvasElement} */ ($('overlay2')),
    space: other, background: background(), reducedMotion,
    onHover: (id) => { const r = data.rowOf.get(id); overlay.setFocus(r === undefined ? null : { from: r, to: [] }); },
    onPick: (id) => pick(id),
    onLasso: (ids) => { renderer.select(ids.map((id) => data.rowOf.get(id)).filter((r) => r !== undefined)); state.selection = ids; selectionChanged(); },
  });
  await compareColours();
  await renderer.reset(false);  // the first map lost half its width: fit it again
  if (filtered) await compare.setVisible(filtered.map((r) => data.ids[r]));
  compare.select(renderer.selection().map((i) => data.ids[i]));
}

async function compareColours() {
  if (!compare) return;
  const { values, colours, continuous } = lastColours;
  await compare.setColours((id) => { const r = data.rowOf.get(id); return r === undefined ? undefined : values[r]; }, colours, continuous);
}

/** Items of a space indexed by picture all have one; in a text space some may not (they 404). */
function spaceHasImages(space) {
  const info = bundle.spaces.find((s) => s.name === space);
  return !!info && info.indexed_modality === 'image';
}

function clusterColumn(labels, names) {
  const values = [...new Set(Array.from(labels ?? []))].sort((a, b) => a - b);
  const dictionary = values.map((v) => (v < 0 ? 'noise' : names.get(v)?.name ?? `cluster ${v}`));
  const code = new Map(values.map((v, i) => [v, i]));
  return { kind: 'categorical', dictionary, codes: Int32Array.from(labels ?? [], (v) => (v == null ? -1 : code.get(v))) };
}

async function applyColour() {
  const name = state.colour === 'cluster' ? CLUSTER : state.colour;
  if (state.colour === 'score' && hits.length) {
    const values = new Float32Array(data.rows);
    const top = hits[0].score; const low = hits[hits.length - 1].score;
    for (const hit of hits) { const r = data.rowOf.get(hit.id); if (r !== undefined) values[r] = (hit.score - low) / (top - low || 1); }
    const enc2 = colourEncoding({ kind: 'numeric', values: Float64Array.from(values) }, data.rows);
    await renderer.setColours(enc2.values, enc2.colours, true);
    renderLegend($('legend'), 'query score', { ...enc2, min: low, max: top }, { active: [], onToggle: () => {} });
    return;
  }
  const encoding = colourEncoding(data.columns[name], data.rows);
  await renderer.setColours(encoding.values, encoding.colours, encoding.continuous);
  lastColours = encoding;
  await compareColours();
  renderLegend($('legend'), state.colour === 'cluster' ? 'cluster' : name, encoding, {
    active: state.filters[name] ?? [], onToggle: (value) => toggleFilter(name, value) });
}

/** Map coordinates to canvas pixels, through the reference points (screen.js). */
function toScreen(x, y) {
  return data.reference ? mapToScreen(x, y, data.x, data.y, data.reference, (i) => renderer.screenXY(i)) : null;
}

function applyContours() {
  overlay.setContours(state.contours ? densityContours(data.x, data.y, filtered) : []);
  $('contours').setAttribute('aria-pressed', String(state.contours));
}

async function applyFilters() {
  const active = Object.values(state.filters).some((v) => v.length) || Object.keys(state.ranges).length;
  const mask = filterMask(data.rows, data.columns, state.filters, state.ranges);
  visibleRows = maskIndices(mask);
  filtered = active ? visibleRows : null;
  await renderer.setVisible(filtered);
  await compare?.setVisible(filtered && filtered.map((r) => data.ids[r]));
  applyContours();
  renderFacetsNow();
  saveState();
}

function renderFacetsNow() {
  const selected = renderer.selection();
  const facetCatalogue = [{ name: CLUSTER, kind: 'categorical' }, ...catalogue.filter((c) => c.kind !== 'text')];
  renderFacets($('facets'), facetCatalogue, data.columns, selected.length ? selected : visibleRows, {
    filters: state.filters, ranges: state.ranges,
    onToggle: toggleFilter,
    onRange: (name, which, value) => {
      const info = catalogue.find((c) => c.name === name);
      const [lo, hi] = state.ranges[name] ?? [info.min, info.max];
      state.ranges[name] = which === 'min' ? [value, hi] : [lo, value];
      applyFilters();
    },
  });
}

async function toggleFilter(name, value) {
  const values = state.filters[name] ?? [];
  state.filters[name] = values.includes(value) ? values.filter((v) => v !== value) : [...values, value];
  if (!state.filters[name].length) delete state.filters[name];
  await applyFilters();
  await applyColour();
}

let hoverTimer;
function hover(i) {
  clearTimeout(hoverTimer);
  // A short dwell: sweeping across the map fetches no card.
  compare?.focus(data.ids[i]);
  hoverTimer = setTimeout(async () => {
    const c = await card(data.ids[i]);
    const p = renderer.screenXY(i);
    const el = $('card');
    renderCard(el, c, state.space);
    if (p) { el.style.left = `${Math.min(p[0] + 14, $('stage').clientWidth - 340)}px`; el.style.top = `${Math.max(0, p[1] - 20)}px`; }
    el.hidden = false;
  }, 120);
}

let reviewAttribute = '';
async function pick(id, attribute = reviewAttribute) {
  state.item = id;
  compare?.focus(id);
  saveState();
  if (!id) { $('detail').replaceChildren(); overlay.setFocus(null); neighbourRows = []; return; }
  const row = data.rowOf.get(id);
  await renderDetail($('detail'), {
    id, space: state.space, spaces: bundle.spaces.map((s) => s.name), onPick: (next) => pick(next), attribute,
    onNeighbours: (_, ids) => {
      neighbourRows = ids.map((n) => data.rowOf.get(n)).filter((r) => r !== undefined);
      overlay.setFocus(row === undefined ? null : { from: row, to: neighbourRows });
    },
  });
}

async function search(query, file) {
  state.query = file ? '' : query;
  saveState();
  if (!query && !file) { hits = []; overlay.setRings([]); await renderer.setEmphasis(new Float32Array(data.rows).fill(1)); renderResults($('results'), [], {}); return; }
  const space = /** @type {HTMLSelectElement} */ ($('qspace')).value || state.qspace;
  state.qspace = space;
  let found;
  if (file) {
    const form = new FormData(); form.append('file', file); form.append('space', bundle.spaces.some((s) => s.name === state.space && s.query_modalities.includes('image')) ? state.space : 'image'); form.append('k', '50');
    found = await postForm('/v1/search/image', form);
  } else {
    found = await postJSON('/v1/search/text', { query, space, k: 50 });
  }
  hits = found.hits;
  const rows = hits.map((hit) => data.rowOf.get(hit.id)).filter((r) => r !== undefined);
  overlay.setRings(rows);
  compare?.setRings(hits.map((hit) => hit.id));
  const weights = new Float32Array(data.rows);
  rows.forEach((r) => { weights[r] = 1; });
  await renderer.setEmphasis(weights);
  renderResults($('results'), hits, {
    title: file ? `Like ${file.name}` : `“${query}” in ${space}`,
    onFocus: (id) => { const r = data.rowOf.get(id); if (r !== undefined) overlay.setFocus({ from: r, to: [] }); },
    onPick: pick,
  });
}

function selectionChanged() {
  const rows = renderer.selection();
  compare?.select(rows.map((i) => data.ids[i]));
  saveState();
  renderSelection($('selection'), { ids: rows.map((i) => data.ids[i]), rows, columns: data.columns, space: state.space, onPick: pick,
    onClear: () => { renderer.select([]); state.selection = []; selectionChanged(); } });
  renderFacetsNow();
}

let cameraTimer;
function cameraChanged() {
  clearTimeout(cameraTimer);
  // Rounded as the link writes it, so a restored view reads back the same state.
  cameraTimer = setTimeout(() => { state.camera = renderer.camera().map((v) => +v.toFixed(5)); saveState(); }, 150);
}

function setTool(tool) {
  renderer.setTool(tool);
  compare?.setTool(tool);
  for (const t of ['pan', 'lasso', 'rectangle']) $(`tool-${t}`).setAttribute('aria-pressed', String(t === tool));
}

function wireControls() {
  $('space').addEventListener('change', (ev) => { state.space = ev.target.value; state.method = ''; pick(''); loadSpace(false); });
  $('method').addEventListener('change', (ev) => { state.method = ev.target.value; loadSpace(true); });
  $('compare').replaceChildren(h('option', { value: '' }, 'none'), ...bundle.spaces.map((s) => h('option', { value: s.name }, s.name)));
  $('compare').addEventListener('change', (ev) => { state.compare = ev.target.value; saveState(); openCompare(); });
  $('since').replaceChildren(h('option', { value: '' }, 'this version only'),
    ...bundle.versions.filter((v) => v !== bundle.version).reverse().map((v) => h('option', { value: v }, v)));
  $('since').addEventListener('change', (ev) => { state.since = ev.target.value; saveState(); applySince().catch(report); });
  $('colour').addEventListener('change', (ev) => { state.colour = ev.target.value; saveState(); applyColour(); });
  $('search').addEventListener('submit', (ev) => { ev.preventDefault(); search(/** @type {HTMLInputElement} */ ($('query')).value.trim()); });
  $('image-query').addEventListener('change', (ev) => { const f = ev.target.files?.[0]; if (f) search('', f); });
  /** @type {HTMLInputElement} */ ($('query')).value = state.query;
  for (const t of ['pan', 'lasso', 'rectangle']) $(`tool-${t}`).addEventListener('click', () => setTool(t));
  $('reset').addEventListener('click', () => renderer.reset());
  $('theme').addEventListener('click', () => {
    state.theme = document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark';
    applyTheme(); renderer.setBackground(background()); overlay.draw(); saveState();
  });
  $('copy-link').addEventListener('click', () => navigator.clipboard?.writeText(location.href));
  $('export-png').addEventListener('click', () => exportPng(renderer, `vitrina-${state.space}-${state.method}.png`));
  $('review').addEventListener('click', review);
  $('contours').addEventListener('click', () => { state.contours = !state.contours; applyContours(); saveState(); });
  new ResizeObserver(() => { const r = $('pane1').getBoundingClientRect(); renderer.resize(r.width, r.height); overlay.draw(); }).observe($('pane1'));
  wireKeys({
    escape: () => { search(''); pick(''); setTool('pan'); },
    focusQuery: () => $('query').focus(),
    setTool,
    toggleContours: () => $('contours').click(),
    detail: $('detail'),
  });
}

/** The label-outlier review list of the space, from the build's outlier report. */
async function review() {
  const view = await getJSON(`/v1/spaces/${enc(state.space)}/outliers?limit=200`);
  renderOutliers($('outliers'), view, {
    onPick: (id, attribute) => { reviewAttribute = attribute; const r = data.rowOf.get(id); if (r !== undefined) renderer.zoomTo([r]); pick(id, attribute); },
    onClose: () => { reviewAttribute = ''; $('outliers').replaceChildren(); },
  });
}

