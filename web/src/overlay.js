// @ts-check
/** What the map draws above the points on a 2-D canvas: cluster names, search-hit rings,
 * neighbour rings and lines. Redrawn on every view change; positions come from the renderer. */
import { placeLabels } from './geometry.js';

/**
 * @param {HTMLCanvasElement} canvas
 * @param {{screenXY: (i: number) => number[] | undefined}} renderer
 */
export function createOverlay(canvas, renderer) {
  const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'));
  /** @type {{text: string, anchor: number, priority: number}[]} */ let clusterLabels = [];
  /** @type {number[]} */ let rings = [];
  /** @type {{from: number, to: number[]}|null} */ let focus = null;
  let placed = [];

  function colour(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#000';
  }

  function draw() {
    const dpr = window.devicePixelRatio || 1;
    const { width, height } = canvas.getBoundingClientRect();
    if (canvas.width !== Math.round(width * dpr)) { canvas.width = Math.round(width * dpr); canvas.height = Math.round(height * dpr); }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const at = (i) => renderer.screenXY(i);
    if (focus) {
      const from = at(focus.from);
      ctx.strokeStyle = colour('--accent');
      ctx.lineWidth = 1;
      for (const j of focus.to) {
        const to = at(j);
        if (!from || !to) continue;
        ctx.beginPath(); ctx.moveTo(from[0], from[1]); ctx.lineTo(to[0], to[1]); ctx.stroke();
        ring(to, 7, colour('--accent'));
      }
      if (from) ring(from, 10, colour('--accent'), 3);
    }
    rings.forEach((i, rank) => {
      const p = at(i);
      if (!p) return;
      ring(p, 9, colour('--hit'), 2);
      if (rank < 20) label(String(rank + 1), p[0] + 11, p[1] - 8, colour('--hit'), 'bold 11px system-ui, sans-serif', 'left');
    });
    ctx.font = '600 12px system-ui, sans-serif';
    const screen = clusterLabels
      .map((l) => { const p = renderer.screenXY(l.anchor); return p && { text: l.text, priority: l.priority, x: p[0], y: p[1] - 14 }; })
      .filter((l) => !!l);
    placed = placeLabels(screen, (t) => ctx.measureText(t).width + 8, 16, { width, height });
    for (const l of placed) label(l.text, l.x, l.y, colour('--fg'), '600 12px system-ui, sans-serif', 'center', colour('--halo'));
  }

  function ring([x, y], r, stroke, width = 2) {
    ctx.beginPath(); ctx.arc(x, y, r, 0, 2 * Math.PI); ctx.strokeStyle = stroke; ctx.lineWidth = width; ctx.stroke();
  }

  function label(text, x, y, fill, font, align, halo) {
    ctx.font = font; ctx.textAlign = align; ctx.textBaseline = 'middle';
    if (halo) { ctx.lineWidth = 3; ctx.strokeStyle = halo; ctx.strokeText(text, x, y); }
    ctx.fillStyle = fill; ctx.fillText(text, x, y);
  }

  return {
    draw,
    /** Cluster names, each anchored on its most central member (a point index). */
    setClusterLabels(labels) { clusterLabels = labels; draw(); },
    setRings(indices) { rings = indices; draw(); },
    setFocus(value) { focus = value; draw(); },
    placedLabels: () => placed.map((p) => p.text),
    rings: () => rings,
  };
}
