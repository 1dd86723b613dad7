import { test } from 'node:test';
import assert from 'node:assert/strict';
import { densityContours, densityGrid } from '../src/density.js';
import { insidePolygon } from '../src/geometry.js';

// Two blobs: 300 points around (-0.5, -0.5), 100 around (0.6, 0.5).
const x = []; const y = [];
for (let i = 0; i < 400; i++) {
  const [cx, cy] = i < 300 ? [-0.5, -0.5] : [0.6, 0.5];
  const a = i * 2.4; const r = 0.15 * Math.sqrt((i % 100) / 100);
  x.push(cx + r * Math.cos(a)); y.push(cy + r * Math.sin(a));
}

test('the grid keeps every point and blurring keeps the mass', () => {
  const grid = densityGrid(x, y, null, 64, 0);
  assert.equal(grid.reduce((a, b) => a + b, 0), 400);
  const blurred = densityGrid(x, y, null, 64, 2);
  assert.ok(Math.abs(blurred.reduce((a, b) => a + b, 0) - 400) < 40); // edges lose a little
});

test('the innermost contour surrounds the densest blob only', () => {
  const levels = densityContours(x, y, null);
  const top = levels.at(-1);
  assert.ok(top.rings.length >= 1);
  assert.ok(top.rings.some((ring) => insidePolygon(-0.5, -0.5, ring)));
  assert.ok(!top.rings.some((ring) => insidePolygon(0.6, 0.5, ring)));
  const outer = levels[0];
  assert.ok(outer.rings.some((ring) => insidePolygon(0.6, 0.5, ring)));
});

test('contours follow the rows given', () => {
  const levels = densityContours(x, y, Array.from({ length: 100 }, (_, i) => 300 + i));
  assert.ok(levels.at(-1).rings.some((ring) => insidePolygon(0.6, 0.5, ring)));
  assert.ok(!levels.at(-1).rings.some((ring) => insidePolygon(-0.5, -0.5, ring)));
});
