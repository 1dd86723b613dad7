import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PALETTE, NOISE, byFrequency, categoryColour, continuousColour } from '../src/colours.js';

test('categories rank by count, ties by first code', () => {
  const { order, counts, rankOf } = byFrequency(Int32Array.from([2, 1, 2, 0, 1, -1]), 3);
  assert.deepEqual(order, [1, 2, 0]);
  assert.deepEqual(counts, [1, 2, 2]);
  assert.deepEqual(Array.from(rankOf), [2, 0, 1]);
});

test('the palette matches the server picture and overflows to grey', () => {
  assert.equal(categoryColour(0), '#4e79a7');
  assert.equal(categoryColour(PALETTE.length), NOISE);
  assert.equal(categoryColour(-1), NOISE);
});

test('the continuous scale runs from viridis purple to yellow and clamps', () => {
  assert.equal(continuousColour(0), '#440154');
  assert.equal(continuousColour(1), '#fde725');
  assert.equal(continuousColour(7), '#fde725');
  assert.equal(continuousColour(NaN), '#440154');
});
