// @ts-check
/** Density contours of the map: points binned on a grid over [-1.1, 1.1]², blurred, and traced
 * by d3-contour at a few levels; rings come back in the points' own coordinates. */
import { contours } from 'd3-contour';

const EXTENT = 1.1;

/**
 * @param {ArrayLike<number>} x @param {ArrayLike<number>} y
 * @param {ArrayLike<number> | null} rows the rows to count (null: all)
 * @param {number} size grid cells per side
 * @param {number} radius box-blur radius in cells (three passes approximate a Gaussian)
 */
export function densityGrid(x, y, rows, size = 96, radius = 2) {
  let grid = new Float64Array(size * size);
  const cell = (v) => Math.min(size - 1, Math.max(0, Math.floor(((v + EXTENT) / (2 * EXTENT)) * size)));
  const count = rows === null ? x.length : rows.length;
  for (let k = 0; k < count; k++) {
    const r = rows === null ? k : rows[k];
    grid[cell(y[r]) * size + cell(x[r])] += 1;
  }
  for (let pass = 0; pass < 3; pass++) grid = blur(blur(grid, size, radius, 1), size, radius, size);
  return grid;
}

function blur(grid, size, radius, step) {
  const out = new Float64Array(grid.length);
  const along = step === 1;
  for (let line = 0; line < size; line++) {
    for (let i = 0; i < size; i++) {
      let sum = 0;
      let n = 0;
      for (let d = -radius; d <= radius; d++) {
        const j = i + d;
        if (j < 0 || j >= size) continue;
        sum += grid[along ? line * size + j : j * size + line];
        n += 1;
      }
      out[along ? line * size + i : i * size + line] = sum / n;
    }
  }
  return out;
}

/**
 * Contour rings at `levels` fractions of the densest cell.
 * @returns {{level: number, rings: number[][][]}[]} rings as [[x, y], ...] in map coordinates
 */
export function densityContours(x, y, rows, { size = 96, levels = [0.08, 0.2, 0.4, 0.7] } = {}) {
  const grid = densityGrid(x, y, rows, size);
  let max = 0;
  for (const v of grid) if (v > max) max = v;
  if (max === 0) return [];
  const toMap = ([gx, gy]) => [-EXTENT + (gx / size) * 2 * EXTENT, -EXTENT + (gy / size) * 2 * EXTENT];
  return contours().size([size, size]).thresholds(levels.map((l) => l * max))(Array.from(grid)).map((c, i) => ({
    level: levels[i],
    rings: c.coordinates.flatMap((polygon) => polygon.map((ring) => ring.map(toMap))),
  }));
}
