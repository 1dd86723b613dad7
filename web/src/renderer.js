// @ts-check
/** The map's renderer behind a small interface of our own, so regl-scatterplot (WebGL 1) can be
 * replaced without touching the page. Everything the page asks of it is here. */
import createScatterplot from 'regl-scatterplot';

// Coordinates span [-1, 1], which the camera fits edge to edge at distance 1: a little further
// away, points on the rim are not cut in half.
const HOME_DISTANCE = 1.1;

/** Is WebGL available at all? The page shows the server's picture when it is not. */
export function hasWebGL() {
  try {
    const canvas = document.createElement('canvas');
    return !!(canvas.getContext('webgl') || canvas.getContext('experimental-webgl'));
  } catch {
    return false;
  }
}

/**
 * @param {HTMLCanvasElement} canvas
 * @param {{background: string, reducedMotion: boolean}} options
 */
export function createRenderer(canvas, { background, reducedMotion }) {
  const { width, height } = canvas.getBoundingClientRect();
  // The camera fits the map's height; a canvas taller than wide must step back to fit its width.
  const home = () => { const r = canvas.getBoundingClientRect(); return HOME_DISTANCE * Math.max(1, r.height / (r.width || 1)); };
  // A flat map never rotates, so Alt only removes from the selection; adding is ⌘ on a Mac and
  // Ctrl elsewhere (the library's default, ⌘ only, leaves Linux and Windows users without it).
  const merge = /Mac|iPhone|iPad/.test(navigator.platform) ? 'cmd' : 'ctrl';
  const plot = createScatterplot({
    canvas, width, height, backgroundColor: background, pointSize: 4, pointSizeSelected: 2,
    pointOutlineWidth: 1, lassoMinDelay: 5, lassoMinDist: 2, opacityInactiveMax: 0.5,
    deselectOnEscape: false, deselectOnDblClick: false, cameraDistance: home(),
    actionKeyMap: { lasso: 'shift', merge, remove: 'alt' },
  });
  const listeners = { hover: [], out: [], click: [], lasso: [], view: [] };
  let lassoing = false;
  /** @type {number[]} */ let selection = [];
  /** @type {number[][] | null} */ let lastLasso = null;
  let n = 0;
  let x = new Float32Array(0);
  let y = new Float32Array(0);
  let z = new Float32Array(0);
  let w = new Float32Array(0);

  plot.subscribe('pointOver', (i) => listeners.hover.forEach((f) => f(i)));
  plot.subscribe('pointOut', (i) => listeners.out.forEach((f) => f(i)));
  plot.subscribe('lassoStart', () => { lassoing = true; });
  plot.subscribe('lassoEnd', ({ coordinates }) => {
    // GL coordinates are the points' own ([-1, 1] data space): the polygon the selection used.
    lastLasso = Array.from({ length: coordinates.length / 2 }, (_, k) => [coordinates[2 * k], coordinates[2 * k + 1]]);
  });
  plot.subscribe('select', ({ points }) => {
    if (lassoing) {
      lassoing = false;
      selection = Array.from(points);
      listeners.lasso.forEach((f) => f(selection));
      return;
    }
    // A click on a point: the library selects it; we keep the lasso selection and open the item.
    const clicked = points[points.length - 1];
    plot.select(selection, { preventEvent: true });
    listeners.click.forEach((f) => f(clicked));
  });
  plot.subscribe('deselect', () => {
    if (lassoing) return;
    if (selection.length) plot.select(selection, { preventEvent: true });
  });
  plot.subscribe('view', () => listeners.view.forEach((f) => f()));

  let zContinuous = false;
  // regl-scatterplot drops a draw that starts before the last one finished, so every change
  // to the points goes through one queue; redraws asked for while one waits share it.
  let queue = Promise.resolve();
  /** @type {{transition: boolean, done: Promise<void>} | null} */ let waiting = null;
  const serial = (work) => { const run = queue.then(work); queue = run.catch(() => {}); return run; };

  function redraw(transition = false) {
    if (waiting) { waiting.transition ||= transition; return waiting.done; }
    const job = { transition, done: Promise.resolve() };
    job.done = serial(() => {
      waiting = null;
      return plot.draw({ x, y, z, w }, {
        zDataType: zContinuous ? 'continuous' : 'categorical', wDataType: 'continuous',
        transition: job.transition && !reducedMotion, transitionDuration: 600, preventFilterReset: true,
      });
    });
    waiting = job;
    return job.done;
  }

  return {
    /** Coordinates in [-1, 1]; `transition` animates from the previous ones (same rows). */
    async setPoints(xs, ys, transition = false) {
      const same = xs.length === n;
      n = xs.length; x = xs; y = ys;
      if (!same) {
        z = new Float32Array(n); w = new Float32Array(n).fill(1);
        // Fewer points, bigger dots: a few dozen stay visible, a million do not clump.
        await plot.set({ pointSize: n < 1000 ? 8 : n < 10000 ? 5 : n < 100000 ? 3 : 2 });
      }
      await redraw(same && transition);
    },
    /** Category rank per point (colours[rank]) or a value in [0, 1] per point on a colour ramp. */
    async setColours(values, colours, continuous) {
      z = values; zContinuous = continuous;
      await plot.set({ colorBy: 'valueA', pointColor: colours.length ? colours : ['#4e79a7'] });
      await redraw();
    },
    /** 1 keeps a point at full strength, 0 dims it (search hits and neighbours stand out). */
    async setEmphasis(weights) {
      w = weights;
      const dim = weights.some((v) => v < 1);
      await plot.set({ opacityBy: dim ? 'valueB' : null, opacity: dim ? [0.12, 1] : 1 });
      await redraw();
    },
    /** Only these points are drawn and pickable; null draws all. */
    async setVisible(indices) {
      await serial(() => (indices === null ? plot.unfilter({ preventEvent: true }) : plot.filter(indices, { preventEvent: true })));
    },
    /** Resolves once hover, click and lasso can find points (the spatial index is built in a worker). */
    async whenPickable(timeoutMs = 60000) {
      const start = performance.now();
      while (this.pointsInView() === null && performance.now() - start < timeoutMs) await new Promise((r) => setTimeout(r, 50));
    },
    select(indices) { selection = indices; plot.select(indices, { preventEvent: true }); },
    selection: () => selection,
    lastLasso: () => lastLasso,
    /** 'pan', 'lasso' or 'rectangle'. */
    setTool(tool) {
      plot.set({ mouseMode: tool === 'pan' ? 'panZoom' : 'lasso', lassoType: tool === 'rectangle' ? 'rectangle' : 'freeform' });
    },
    setBackground(colour) { plot.set({ backgroundColor: colour }); },
    screenXY: (i) => plot.getScreenPosition(i),
    /** Indices of the points in view; null while the spatial index is still being built. */
    pointsInView() {
      try {
        return plot.get('pointsInView');
      } catch {
        return null;
      }
    },
    drawnCount: () => (plot.get('isPointsFiltered') ? plot.get('filteredPoints').length : n),
    camera: () => [...plot.get('cameraTarget'), plot.get('cameraDistance')],
    setCamera(cam) { plot.set({ cameraTarget: [cam[0], cam[1]], cameraDistance: cam[2] }); },
    /** Fit the whole map; animated when the user asks, at once when the page lays itself out. */
    reset(animate = true) { return plot.zoomToLocation([0, 0], home(), { transition: animate && !reducedMotion }); },
    zoomTo(indices) { plot.zoomToPoints(indices, { padding: 0.4, transition: !reducedMotion }); },
    resize(wd, ht) { plot.set({ width: wd, height: ht }); },
    async exportImage() { return plot.export(); },
    on(event, f) { listeners[event].push(f); },
    destroy() { plot.destroy(); },
  };
}
