import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mapToScreen, referenceRows } from '../src/screen.js';

test('any map point lands where a shift-and-scale view puts it', () => {
  const x = [0.1, -0.8, 0.9, 0.3]; const y = [0.5, 0.0, -0.2, -0.9];
  const view = (px, py) => [400 + 250 * (px - 0.05), 300 - 250 * (py + 0.1)];  // y grows downwards on screen
  const ref = referenceRows(x, y);
  assert.deepEqual(ref, [1, 2, 3, 0]);
  const [sx, sy] = mapToScreen(0.42, -0.33, x, y, ref, (i) => view(x[i], y[i]));
  const [ex, ey] = view(0.42, -0.33);
  assert.ok(Math.abs(sx - ex) < 1e-9 && Math.abs(sy - ey) < 1e-9);
});

test('no reference with fewer than two points, no position without the renderer', () => {
  assert.equal(referenceRows([0.5], [0.5]), null);
  assert.equal(mapToScreen(0, 0, [0, 1], [0, 1], [0, 1, 0, 1], () => undefined), null);
});
