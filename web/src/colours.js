// @ts-check
/** Colour scales of the map. The categorical palette (Tableau 10, then lighter and extra hues for
 * ranks 10 to 19) is the server's too
 * (search_api/map_image.py), so the no-WebGL picture and the live map agree. */

export const PALETTE = [
  '#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac',
  '#a0cbe8', '#ffbe7d', '#ff9d9a', '#86bcb6', '#8cd17d', '#f1ce63', '#d4a6c8', '#fabfd2', '#d37295', '#499894',
];
export const NOISE = '#aaaaaa';
// Viridis at 9 stops: perceptually even and readable by colour-blind users.
const VIRIDIS = ['#440154', '#472d7b', '#3b528b', '#2c728e', '#21918c', '#28ae80', '#5ec962', '#addc30', '#fde725'];

/**
 * Categories ordered by how many items hold them (ties: first seen first), as the legend lists
 * them and the server colours its picture.
 * @param {Int32Array} codes dictionary code per row, -1 for none
 * @param {number} size dictionary size
 * @returns {{order: number[], counts: number[], rankOf: Int32Array}}
 */
export function byFrequency(codes, size) {
  const counts = new Array(size).fill(0);
  for (const c of codes) if (c >= 0) counts[c] += 1;
  const order = counts.map((_, i) => i).sort((a, b) => counts[b] - counts[a] || a - b);
  const rankOf = new Int32Array(size);
  order.forEach((code, rank) => { rankOf[code] = rank; });
  return { order, counts, rankOf };
}

/** Colour of the category at legend rank `rank`; ranks past the palette share its last grey. */
export function categoryColour(rank) {
  if (rank < 0) return NOISE;
  return rank < PALETTE.length ? PALETTE[rank] : NOISE;
}

/** Hex colour of t in [0, 1] on viridis, linearly between stops. */
export function continuousColour(t) {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  const a = hexToRgb(VIRIDIS[i]);
  const b = hexToRgb(VIRIDIS[i + 1]);
  return rgbToHex(a.map((v, k) => Math.round(v + (b[k] - v) * f)));
}

/** `steps` colours along viridis, for a renderer that takes a colour map. */
export function continuousRamp(steps = 64) {
  return Array.from({ length: steps }, (_, i) => continuousColour(i / (steps - 1)));
}

/** @param {string} hex */
export function hexToRgb(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** @param {number[]} rgb */
export function rgbToHex(rgb) {
  return '#' + rgb.map((v) => v.toString(16).padStart(2, '0')).join('');
}

/** Scale numeric values to [0, 1] over [min, max]; NaN stays NaN. */
export function normalise(values, min, max) {
  const span = max - min || 1;
  return Float32Array.from(values, (v) => (v - min) / span);
}
