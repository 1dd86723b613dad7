// @ts-check
/** The map as a picture: the server's drawing where the browser has no WebGL (never a blank
 * canvas), and the view saved as PNG. */
import { enc } from './api.js';
import { download, h } from './dom.js';

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const side = (v) => Math.max(64, Math.min(2048, Math.round(v)));

/** The server-drawn map of `space` in place of the canvas, with the reason. */
export function showFallback(space, theme) {
  const { width, height } = $('stage').getBoundingClientRect();
  const src = `/v1/spaces/${enc(space)}/map.png?width=${side(width)}&height=${side(height)}&theme=${theme}`;
  $('fallback').replaceChildren(h('p', { role: 'alert' }, 'This browser has no WebGL, so the map is a picture drawn by the server: '
    + 'hover, search on the map and lasso need WebGL (enable hardware acceleration, or try another browser).'),
  h('img', { src, alt: `map of the ${space} space` }));
  $('fallback').hidden = false;
  $('map').hidden = true;
}

/** The points as drawn, with the overlay (labels, rings, contours) on top, as a PNG download. */
export async function exportPng(renderer, name) {
  const image = await renderer.exportImage();
  const canvas = /** @type {HTMLCanvasElement} */ (h('canvas', { width: image.width, height: image.height }));
  const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'));
  ctx.putImageData(image, 0, 0);
  ctx.drawImage(/** @type {HTMLCanvasElement} */ ($('overlay')), 0, 0, image.width, image.height);
  canvas.toBlob((blob) => blob && download(blob, name));
}
