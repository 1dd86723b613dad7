// @ts-check
/** Another version of the collection on this map: where its items were, and which are new.
 * A re-index aligns its maps onto its parent's, so moving the points from the old layout to
 * the new one shows what changed, and items the old version lacks are marked. */
import { enc, getArrow } from './api.js';
import { decodeArrow } from './arrow.js';

/**
 * @param {{space: string, method: string, version: string, ids: string[], x: Float32Array, y: Float32Array}} opts
 * @returns {Promise<{fromX: Float32Array, fromY: Float32Array, newRows: number[]}>} the old position of
 *   every current row (its current one when the old version lacks it) and the rows it lacks
 */
export async function sinceVersion({ space, method, version, ids, x, y }) {
  const old = decodeArrow(await getArrow(
    `/v1/spaces/${enc(space)}/projection?version=${enc(version)}&method=${enc(method)}&columns=id,x,y`));
  const oldRow = new Map(Array.from(old.columns.id, (id, i) => [id, i]));
  const fromX = Float32Array.from(x);
  const fromY = Float32Array.from(y);
  const newRows = [];
  ids.forEach((id, row) => {
    const r = oldRow.get(id);
    if (r === undefined) newRows.push(row);
    else { fromX[row] = old.columns.x[r]; fromY[row] = old.columns.y[r]; }
  });
  return { fromX, fromY, newRows };
}
