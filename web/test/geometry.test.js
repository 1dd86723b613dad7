import { test } from 'node:test';
import assert from 'node:assert/strict';
import { insidePolygon, placeLabels } from '../src/geometry.js';

test('points inside a concave polygon', () => {
  const u = [[0, 0], [3, 0], [3, 3], [2, 3], [2, 1], [1, 1], [1, 3], [0, 3]];
  assert.equal(insidePolygon(0.5, 2, u), true);
  assert.equal(insidePolygon(1.5, 2, u), false);
  assert.equal(insidePolygon(2.5, 0.5, u), true);
  assert.equal(insidePolygon(4, 1, u), false);
});

test('labels never overlap, and the higher priority wins a clash', () => {
  const measure = (t) => t.length * 10;
  const placed = placeLabels([
    { text: 'small', x: 105, y: 100, priority: 1 },
    { text: 'large', x: 100, y: 100, priority: 9 },
    { text: 'apart', x: 300, y: 100, priority: 2 },
    { text: 'away', x: -500, y: 100, priority: 5 },
  ], measure, 14, { width: 400, height: 300 });
  assert.deepEqual(placed.map((p) => p.text), ['large', 'apart']);
});

test('a label near the edge slides inside the viewport', () => {
  const [placed] = placeLabels([{ text: 'edge', x: 395, y: 2, priority: 1 }], (t) => t.length * 10, 14, { width: 400, height: 300 });
  assert.deepEqual(placed.box, [360, 0, 400, 14]);
});
