// @ts-check
/** A text cut into plain and highlighted runs from word attributions' character offsets. */

/**
 * @param {string} text
 * @param {{start: number, end: number, score: number}[]} words salient words; overlaps and
 *   offsets outside the text are dropped, so a stale attribution never garbles the text
 * @returns {{text: string, score: number | null}[]} runs covering the whole text, in order
 */
export function highlightRuns(text, words) {
  const spans = words
    .filter((w) => Number.isInteger(w.start) && Number.isInteger(w.end) && w.start >= 0 && w.end <= text.length && w.start < w.end)
    .sort((a, b) => a.start - b.start);
  const runs = [];
  let at = 0;
  for (const w of spans) {
    if (w.start < at) continue;
    if (w.start > at) runs.push({ text: text.slice(at, w.start), score: null });
    runs.push({ text: text.slice(w.start, w.end), score: w.score });
    at = w.end;
  }
  if (at < text.length) runs.push({ text: text.slice(at), score: null });
  return runs;
}
