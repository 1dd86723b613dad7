// @ts-check
/** Map coordinates to screen pixels for what the renderer does not draw itself (contours).
 * The renderer only places its own points, so the map is read off two points furthest apart in
 * x and two in y: the view is shifted and scaled, never rotated. */

/** Rows of the smallest and largest x, then y; null with fewer than two points. */
export function referenceRows(x, y) {
  let [minX, maxX, minY, maxY] = [0, 0, 0, 0];
  for (let i = 1; i < x.length; i++) {
    if (x[i] < x[minX]) minX = i;
    if (x[i] > x[maxX]) maxX = i;
    if (y[i] < y[minY]) minY = i;
    if (y[i] > y[maxY]) maxY = i;
  }
  return x.length > 1 ? [minX, maxX, minY, maxY] : null;
}

/**
 * @param {number} px @param {number} py a point in map coordinates
 * @param {ArrayLike<number>} x @param {ArrayLike<number>} y the map's points
 * @param {number[]} reference referenceRows(x, y)
 * @param {(i: number) => number[] | undefined} screenXY where the renderer drew point i
 */
export function mapToScreen(px, py, x, y, reference, screenXY) {
  const [ax, bx, ay, by] = reference.map(screenXY);
  if (!ax || !bx || !ay || !by) return null;
  const sx = ax[0] + ((px - x[reference[0]]) * (bx[0] - ax[0])) / (x[reference[1]] - x[reference[0]] || 1);
  const sy = ay[1] + ((py - y[reference[2]]) * (by[1] - ay[1])) / (y[reference[3]] - y[reference[2]] || 1);
  return [sx, sy];
}
