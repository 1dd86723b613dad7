import { test } from 'node:test';
import assert from 'node:assert/strict';
import { highlightRuns } from '../src/highlight.js';

test('runs cover the text and mark the salient words', () => {
  const runs = highlightRuns('a red cat sat', [{ start: 6, end: 9, score: 1 }, { start: 2, end: 5, score: 0.4 }]);
  assert.equal(runs.map((r) => r.text).join(''), 'a red cat sat');
  assert.deepEqual(runs.filter((r) => r.score !== null).map((r) => r.text), ['red', 'cat']);
});

test('overlapping or out-of-range offsets are dropped', () => {
  const runs = highlightRuns('cat', [{ start: 0, end: 3, score: 1 }, { start: 1, end: 2, score: 1 }, { start: 2, end: 9, score: 1 }]);
  assert.deepEqual(runs, [{ text: 'cat', score: 1 }]);
});
