// @ts-check
/** The map's keyboard: tools, search focus, contours, and walking the focused item's neighbours. */

/**
 * @param {{ escape: () => void, focusQuery: () => void, setTool: (tool: string) => void,
 *           toggleContours: () => void, detail: HTMLElement }} actions
 */
export function wireKeys(actions) {
  document.addEventListener('keydown', (ev) => {
    const typing = ev.target instanceof HTMLInputElement || ev.target instanceof HTMLSelectElement;
    if (ev.key === 'Escape') { actions.escape(); return; }
    if (typing || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.key === '/') { ev.preventDefault(); actions.focusQuery(); }
    if (ev.key === 'l') actions.setTool('lasso');
    if (ev.key === 'r') actions.setTool('rectangle');
    if (ev.key === 'p') actions.setTool('pan');
    if (ev.key === 'c') actions.toggleContours();
    if (ev.key === '[' || ev.key === ']') stepNeighbour(actions.detail, ev.key === ']' ? 1 : -1);
  });
}

/** [ and ]: walk the focused item's neighbour list. */
function stepNeighbour(detail, by) {
  const buttons = [...detail.querySelectorAll('section:first-of-type li')];
  if (!buttons.length) return;
  const at = buttons.findIndex((li) => li.classList.contains('current'));
  buttons.forEach((li) => li.classList.remove('current'));
  const next = buttons[(at + by + buttons.length) % buttons.length];
  next.classList.add('current');
  /** @type {HTMLElement} */ (next.querySelector('button.pick')).focus();
}
