// @ts-check
/** Arrow IPC responses decoded into the typed arrays the map draws and filters with. */
import { tableFromIPC } from '@uwdata/flechette';

/**
 * @param {Uint8Array | ArrayBuffer} bytes an Arrow IPC stream
 * @returns {{rows: number, metadata: Record<string, string>, columns: Record<string, any>}}
 *   numbers as Float32Array/Float64Array/Int32Array, strings as arrays, dictionary columns as
 *   {kind: 'categorical', codes, dictionary}, lists of dictionaries as {kind: 'tags', ...}
 */
export function decodeArrow(bytes) {
  const table = tableFromIPC(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes), { useMap: false });
  /** @type {Record<string, any>} */
  const columns = {};
  for (const field of table.schema.fields) {
    const column = table.getChild(field.name);
    columns[field.name] = decodeColumn(field.type, column);
  }
  const metadata = Object.fromEntries(table.schema.metadata ?? new Map());
  return { rows: table.numRows, metadata, columns };
}

function decodeColumn(type, column) {
  if (type.typeId === -1 /* Dictionary */) {
    return { kind: 'categorical', ...dictionaryCodes(column) };
  }
  if (type.typeId === 12 /* List */ && type.children[0].type.typeId === -1) {
    return { kind: 'tags', ...listOfCodes(column) };
  }
  if (type.typeId === 3 /* Float */ && type.precision === 2) {
    return { kind: 'numeric', values: Float64Array.from(column, (v) => (v == null ? NaN : v)) };
  }
  return column.toArray();
}

function dictionaryCodes(column) {
  const codes = new Int32Array(column.length);
  let dictionary = [];
  let at = 0;
  for (const batch of column.data) {
    // Every batch shares the stream's one dictionary; take it from the first.
    if (!dictionary.length) dictionary = Array.from(batch.cache);
    for (let i = 0; i < batch.length; i++) codes[at + i] = valid(batch, i) ? batch.key(i) : -1;
    at += batch.length;
  }
  return { codes, dictionary };
}

function listOfCodes(column) {
  const offsets = new Int32Array(column.length + 1);
  const codes = [];
  let dictionary = [];
  let row = 0;
  for (const batch of column.data) {
    const child = batch.children[0];
    if (!dictionary.length) dictionary = Array.from(child.cache);
    for (let i = 0; i < batch.length; i++, row++) {
      if (valid(batch, i)) {
        for (let j = batch.offsets[i]; j < batch.offsets[i + 1]; j++) codes.push(child.key(j));
      }
      offsets[row + 1] = codes.length;
    }
  }
  return { offsets, codes: Int32Array.from(codes), dictionary };
}

// A batch without nulls may carry no validity bitmap at all.
function valid(batch, i) {
  return !batch.validity || !batch.nullCount || batch.isValid(i);
}
