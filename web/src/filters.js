// @ts-check
/** Which rows pass the facet chips and numeric ranges, and the facet counts within a set of rows.
 * Columns are the decoded Arrow columns (arrow.js): categoricals and tags as dictionary codes. */

/**
 * @typedef {{kind: 'categorical', codes: Int32Array, dictionary: string[]}} Categorical
 * @typedef {{kind: 'tags', offsets: Int32Array, codes: Int32Array, dictionary: string[]}} Tags
 * @typedef {{kind: 'numeric', values: Float64Array}} Numeric
 * @typedef {Categorical | Tags | Numeric} Column
 */

/**
 * Rows passing every filter: a categorical or tags column passes a row holding any chosen value
 * (chips of one column are OR-ed), numeric ranges are inclusive, and filters of different
 * columns are AND-ed. Unknown columns and values match nothing, so a stale link shows no
 * points rather than all of them.
 * @param {number} rows
 * @param {Record<string, Column>} columns
 * @param {Record<string, string[]>} filters
 * @param {Record<string, [number, number]>} ranges
 * @returns {Uint8Array} 1 where the row passes
 */
export function filterMask(rows, columns, filters, ranges) {
  const mask = new Uint8Array(rows).fill(1);
  for (const [name, values] of Object.entries(filters)) {
    if (!values.length) continue;
    const column = columns[name];
    if (!column || column.kind === 'numeric') { mask.fill(0); continue; }
    const wanted = new Uint8Array(column.dictionary.length);
    for (const v of values) {
      const code = column.dictionary.indexOf(v);
      if (code >= 0) wanted[code] = 1;
    }
    if (column.kind === 'categorical') {
      for (let r = 0; r < rows; r++) if (mask[r] && !(column.codes[r] >= 0 && wanted[column.codes[r]])) mask[r] = 0;
    } else {
      for (let r = 0; r < rows; r++) {
        if (!mask[r]) continue;
        let hit = 0;
        for (let j = column.offsets[r]; j < column.offsets[r + 1]; j++) if (wanted[column.codes[j]]) { hit = 1; break; }
        mask[r] = hit;
      }
    }
  }
  for (const [name, [lo, hi]] of Object.entries(ranges)) {
    const column = columns[name];
    if (!column || column.kind !== 'numeric') { mask.fill(0); continue; }
    for (let r = 0; r < rows; r++) {
      const v = column.values[r];
      if (mask[r] && !(v >= lo && v <= hi)) mask[r] = 0;
    }
  }
  return mask;
}

/** Indices of the rows set in `mask`. @param {Uint8Array} mask */
export function maskIndices(mask) {
  const out = [];
  for (let r = 0; r < mask.length; r++) if (mask[r]) out.push(r);
  return out;
}

/**
 * How many of `rows` hold each value of a categorical or tags column, most common first
 * (ties by value), for the facet chips.
 * @param {Categorical | Tags} column
 * @param {Iterable<number>} rows
 * @returns {{value: string, count: number}[]}
 */
export function facetCounts(column, rows) {
  const counts = new Array(column.dictionary.length).fill(0);
  for (const r of rows) {
    if (column.kind === 'categorical') {
      if (column.codes[r] >= 0) counts[column.codes[r]] += 1;
    } else {
      for (let j = column.offsets[r]; j < column.offsets[r + 1]; j++) counts[column.codes[j]] += 1;
    }
  }
  return column.dictionary
    .map((value, i) => ({ value, count: counts[i] }))
    .filter((c) => c.count > 0)
    .sort((a, b) => b.count - a.count || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
}
