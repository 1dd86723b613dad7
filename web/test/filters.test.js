import { test } from 'node:test';
import assert from 'node:assert/strict';
import { facetCounts, filterMask, maskIndices } from '../src/filters.js';

const columns = {
  category: { kind: 'categorical', codes: Int32Array.from([0, 1, 2, 0, -1]), dictionary: ['a', 'b', 'c'] },
  tags: { kind: 'tags', offsets: Int32Array.from([0, 1, 1, 3, 4, 4]), codes: Int32Array.from([0, 0, 1, 1]), dictionary: ['old', 'new'] },
  year: { kind: 'numeric', values: Float64Array.from([1900, 1950, NaN, 2000, 1920]) },
};

test('chips of one column are OR-ed, columns AND-ed, ranges inclusive', () => {
  assert.deepEqual(maskIndices(filterMask(5, columns, { category: ['a', 'c'] }, {})), [0, 2, 3]);
  assert.deepEqual(maskIndices(filterMask(5, columns, { category: ['a', 'c'], tags: ['new'] }, {})), [2, 3]);
  assert.deepEqual(maskIndices(filterMask(5, columns, {}, { year: [1900, 1950] })), [0, 1, 4]);
});

test('an unknown column or value matches nothing', () => {
  assert.deepEqual(maskIndices(filterMask(5, columns, { nope: ['a'] }, {})), []);
  assert.deepEqual(maskIndices(filterMask(5, columns, { category: ['zzz'] }, {})), []);
  assert.deepEqual(maskIndices(filterMask(5, columns, {}, { category: [0, 1] })), []);
});

test('facet counts follow the rows given, most common first', () => {
  assert.deepEqual(facetCounts(columns.category, [0, 1, 2, 3, 4]), [
    { value: 'a', count: 2 }, { value: 'b', count: 1 }, { value: 'c', count: 1 }]);
  assert.deepEqual(facetCounts(columns.tags, [2, 3]), [{ value: 'new', count: 2 }, { value: 'old', count: 1 }]);
  assert.deepEqual(facetCounts(columns.category, [1]), [{ value: 'b', count: 1 }]);
});
