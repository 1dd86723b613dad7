// @ts-check
/** A second map beside the first, of another space, linked by item id: what is hovered, opened,
 * selected, searched or filtered on one shows on the other, so a curator sees where what a
 * thing looks like and what it is called disagree. */
import { enc, getArrow } from './api.js';
import { decodeArrow } from './arrow.js';
import { createOverlay } from './overlay.js';
import { createRenderer } from './renderer.js';

/**
 * @param {{pane: HTMLElement, canvas: HTMLCanvasElement, overlayCanvas: HTMLCanvasElement, space: string,
 *   background: string, reducedMotion: boolean, onHover: (id: string) => void, onPick: (id: string) => void,
 *   onLasso: (ids: string[]) => void}} opts
 */
export async function createCompare({ pane, canvas, overlayCanvas, space, background, reducedMotion, onHover, onPick, onLasso }) {
  pane.hidden = false;
  const renderer = createRenderer(canvas, { background, reducedMotion });
  const [first, named] = await Promise.all([
    getArrow(`/v1/spaces/${enc(space)}/projection?columns=x,y`).then(decodeArrow),
    getArrow(`/v1/spaces/${enc(space)}/projection?columns=id`).then(decodeArrow),
  ]);
  const ids = Array.from(named.columns.id);
  const rowOf = new Map(ids.map((id, i) => [id, i]));
  const overlay = createOverlay(overlayCanvas, renderer, () => null, () => null);
  renderer.on('view', () => overlay.draw());
  renderer.on('hover', (i) => onHover(ids[i]));
  renderer.on('click', (i) => onPick(ids[i]));
  renderer.on('lasso', (rows) => onLasso(rows.map((i) => ids[i])));
  new ResizeObserver(() => { const r = pane.getBoundingClientRect(); renderer.resize(r.width, r.height); overlay.draw(); }).observe(pane);
  await renderer.setPoints(first.columns.x, first.columns.y);
  await renderer.reset(false);
  await renderer.whenPickable();
  const rows = (list) => list.map((id) => rowOf.get(id)).filter((r) => r !== undefined);
  let focused = '';

  return {
    space,
    /** Colours of the first map, carried over by id (items the first map lacks take the last colour). */
    async setColours(valueOf, colours, continuous) {
      const values = Float32Array.from(ids, (id) => valueOf(id) ?? (continuous ? 0 : colours.length - 1));
      await renderer.setColours(values, colours, continuous);
    },
    /** The item hovered or opened on the other map, ringed here. */
    focus(id) {
      focused = id;
      const r = rowOf.get(id);
      overlay.setFocus(r === undefined ? null : { from: r, to: [] });
    },
    select(list) { renderer.select(rows(list)); },
    setTool(tool) { renderer.setTool(tool); },
    setRings(list) { overlay.setRings(rows(list)); },
    async setVisible(list) { await renderer.setVisible(list === null ? null : rows(list)); },
    focused: () => focused,
    selection: () => renderer.selection().map((i) => ids[i]),
    rings: () => overlay.rings().map((i) => ids[i]),
    drawnCount: () => renderer.drawnCount(),
    screenXY(id) {
      const p = renderer.screenXY(rowOf.get(id));
      const r = canvas.getBoundingClientRect();
      return p && [p[0] + r.left, p[1] + r.top];
    },
    close() { renderer.destroy(); overlay.setFocus(null); pane.hidden = true; },
  };
}
