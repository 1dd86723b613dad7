// @ts-check
/** Plane geometry the page needs without a renderer: lasso hit tests and label boxes. */

/**
 * Is (x, y) inside the polygon (even-odd rule)? The same rule the tests apply in Python.
 * @param {number} x @param {number} y @param {number[][]} polygon [[x, y], ...]
 */
export function insidePolygon(x, y, polygon) {
  let inside = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const [xi, yi] = polygon[i];
    const [xj, yj] = polygon[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/**
 * Labels placed greedily by priority, each kept only when its box overlaps no label placed
 * before it: the biggest clusters keep their names, crowded small ones drop out until zoomed.
 * @param {{text: string, x: number, y: number, priority: number}[]} labels screen positions (centre);
 *   an anchor off screen drops its label
 * @param {(text: string) => number} measure width in pixels of a text
 * @param {number} height line height in pixels
 * @param {{width: number, height: number}} viewport labels off screen are dropped
 * @returns {{text: string, x: number, y: number, box: number[]}[]} placed, highest priority first
 */
export function placeLabels(labels, measure, height, viewport) {
  const placed = [];
  const ordered = [...labels].sort((a, b) => b.priority - a.priority || (a.text < b.text ? -1 : 1));
  for (const label of ordered) {
    const w = measure(label.text);
    if (label.x < 0 || label.y < 0 || label.x > viewport.width || label.y > viewport.height) continue;
    // Slid inside the viewport when its anchor is near an edge, so names are never cut off.
    const x = Math.min(Math.max(label.x, w / 2), viewport.width - w / 2);
    const y = Math.min(Math.max(label.y, height / 2), viewport.height - height / 2);
    const box = [x - w / 2, y - height / 2, x + w / 2, y + height / 2];
    if (placed.some((p) => overlaps(p.box, box))) continue;
    placed.push({ text: label.text, x, y, box });
  }
  return placed;
}

function overlaps(a, b) {
  return a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3];
}
