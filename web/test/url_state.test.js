import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULTS, decodeState, encodeState } from '../src/url_state.js';

test('a state survives the round trip through the hash', () => {
  const state = {
    ...DEFAULTS, space: 'text', method: 'pca', colour: 'category', query: 'a red cat, sitting',
    filters: { category: ['animals', 'a,b & c'] }, ranges: { year: [1900, 1950.5] },
    selection: ['plants/01', 'x,y'], camera: [0.125, -0.5, 0.75], item: 'cats/01', theme: 'dark', contours: true, compare: 'text', since: '20261130T143857808551Z-a50faf',
  };
  assert.deepEqual(decodeState('#' + encodeState(state)), state);
});

test('defaults are left out of the hash', () => {
  assert.equal(encodeState({ ...DEFAULTS }), '');
  assert.deepEqual(decodeState(''), { ...DEFAULTS, filters: {}, ranges: {}, selection: [], camera: null });
});

test('malformed parts are ignored, not half-applied', () => {
  const s = decodeState('#r=year:abc..3&cam=1,2&cam2=x&f=nocolon');
  assert.deepEqual(s.ranges, {});
  assert.equal(s.camera, null);
  assert.deepEqual(s.filters, {});
});
