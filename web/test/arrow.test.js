// The fixture is written by pyarrow through the server's own code (tests/unit/test_web_modules.py
// sets VITRINA_ARROW_FIXTURE), so both sides agree on the columns' encoding.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { decodeArrow } from '../src/arrow.js';

const fixture = process.env.VITRINA_ARROW_FIXTURE;

test('metadata columns written by pyarrow decode to codes, tags and numbers', { skip: !fixture && 'run from pytest' }, () => {
  const { rows, metadata, columns } = decodeArrow(readFileSync(`${fixture}/columns.arrow`));
  const expected = JSON.parse(readFileSync(`${fixture}/columns.json`, 'utf8'));
  assert.equal(rows, expected.length);
  assert.equal(metadata.space, 'image');
  const cat = columns.category;
  assert.equal(cat.kind, 'categorical');
  assert.deepEqual(Array.from(cat.codes, (c) => (c < 0 ? null : cat.dictionary[c])), expected.map((r) => r.category));
  const tags = columns.tags;
  assert.deepEqual(
    expected.map((_, r) => Array.from(tags.codes.slice(tags.offsets[r], tags.offsets[r + 1]), (c) => tags.dictionary[c])),
    expected.map((r) => r.tags ?? []));
  assert.deepEqual(Array.from(columns.year.values, (v) => (Number.isNaN(v) ? null : v)), expected.map((r) => r.year));
});

test('a projection written by pyarrow decodes to float32 coordinates', { skip: !fixture && 'run from pytest' }, () => {
  const { rows, columns } = decodeArrow(readFileSync(`${fixture}/projection.arrow`));
  const expected = JSON.parse(readFileSync(`${fixture}/projection.json`, 'utf8'));
  assert.equal(rows, expected.length);
  assert.ok(columns.x instanceof Float32Array);
  expected.forEach((p, i) => {
    assert.equal(columns.id[i], p.id);
    assert.equal(columns.x[i], Math.fround(p.x));
    assert.equal(columns.cluster[i], p.cluster);
  });
});
