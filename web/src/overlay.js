// @ts-check
/** What the map draws above the points on a 2-D canvas: the items' pictures when few points are
 * in view, cluster names, search-hit rings, neighbour rings and lines. Redrawn on every view
 * change; positions come from the renderer. */
import { placeLabels } from './geometry.js';

// Few enough points in view and each is drawn as its own picture, as a curator zooms in.
export const THUMBNAILS_IN_VIEW = 300;
const THUMB_PX = 36;

/**
 * @param {HTMLCanvasElement} canvas
 * @param {{screenXY: (i: number) => number[] | undefined, pointsInView: () => number[] | null,
 *   camera: () => number[], drawnCount: () => number}} renderer
 * @param {(i: number) => string | null} thumbnailUrl a point's picture, null when it has none
 * @param {(x: number, y: number) => number[] | null} toScreen map coordinates to canvas pixels
 */
export function createOverlay(canvas, renderer, thumbnailUrl, toScreen) {
  /** @type {{level: number, rings: number[][][]}[]} */ let contourLevels = [];
  /** @type {Map<number, HTMLImageElement>} */ const images = new Map();
  let thumbnailsDrawn = 0;
  let pending = 0;
  const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'));
  /** @type {{text: string, anchor: number, priority: number}[]} */ let clusterLabels = [];
  /** @type {number[]} */ let rings = [];
  /** @type {number[]} */ let marked = [];
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
    drawContours();
    drawThumbnails(at);
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
    for (const i of marked) { const p = at(i); if (p) ring(p, 6, colour('--new'), 2); }
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

  function drawContours() {
    ctx.strokeStyle = colour('--contour');
    contourLevels.forEach(({ rings }, k) => {
      ctx.lineWidth = 1 + k * 0.4;
      for (const ring of rings) {
        ctx.beginPath();
        ring.forEach(([x, y], j) => {
          const p = toScreen(x, y);
          if (p) (j ? ctx.lineTo(p[0], p[1]) : ctx.moveTo(p[0], p[1]));
        });
        ctx.closePath();
        ctx.stroke();
      }
    });
  }

  function drawThumbnails(at) {
    thumbnailsDrawn = 0;
    // A cheap bound first: at a million points and a wide view, listing those in view costs a frame.
    const [, , distance] = renderer.camera();
    if (renderer.drawnCount() * Math.min(1, distance * distance) > 20 * THUMBNAILS_IN_VIEW) return;
    const inView = renderer.pointsInView();
    if (inView === null) { setTimeout(draw, 200); return; }
    if (!inView.length || inView.length > THUMBNAILS_IN_VIEW) return;
    for (const i of inView) {
      const img = image(i);
      const p = at(i);
      if (!img || !p || !img.complete || !img.naturalWidth) continue;
      const scale = THUMB_PX / Math.max(img.naturalWidth, img.naturalHeight);
      const w = img.naturalWidth * scale; const h = img.naturalHeight * scale;
      ctx.drawImage(img, p[0] - w / 2, p[1] - h / 2, w, h);
      thumbnailsDrawn += 1;
    }
  }

  function image(i) {
    if (!images.has(i)) {
      const url = thumbnailUrl(i);
      if (!url) return null;
      const img = new Image();
      img.decoding = 'async';
      // One redraw per burst of arrivals, not one per picture.
      img.onload = () => { if (!pending) pending = requestAnimationFrame(() => { pending = 0; draw(); }); };
      img.src = url;
      images.set(i, img);
    }
    return images.get(i);
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
    /** Items new since another version: small rings of their own colour. */
    setMarked(indices) { marked = indices; draw(); },
    marked: () => marked,
    setContours(levels) { contourLevels = levels; draw(); },
    contours: () => contourLevels,
    setFocus(value) { focus = value; draw(); },
    placedLabels: () => placed.map((p) => p.text),
    thumbnailsDrawn: () => thumbnailsDrawn,
    /** Pictures belong to rows of one map: a new space or version starts afresh. */
    forgetThumbnails() { images.clear(); },
    rings: () => rings,
  };
}
