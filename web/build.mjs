// Bundles src/ into ../search_api/static/map/: index.html naming content-hashed app-*.js and
// app-*.css (served with immutable cache headers), and manifest.json listing them.
import { build } from 'esbuild';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', 'search_api', 'static', 'map');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const result = await build({
  entryPoints: { app: join(here, 'src', 'app.js'), style: join(here, 'src', 'style.css') },
  bundle: true, minify: true, format: 'esm', target: ['es2020'], sourcemap: false,
  outdir: join(out, 'assets'), entryNames: '[name]-[hash]', metafile: true, legalComments: 'eof', logLevel: 'warning',
});
const outputs = Object.keys(result.metafile.outputs).map((p) => basename(p));
const js = outputs.find((f) => f.startsWith('app-') && f.endsWith('.js'));
const css = outputs.find((f) => f.startsWith('style-') && f.endsWith('.css'));
const html = readFileSync(join(here, 'src', 'index.html'), 'utf8')
  .replace('{{js}}', `/static/map/assets/${js}`).replace('{{css}}', `/static/map/assets/${css}`);
writeFileSync(join(out, 'index.html'), html);
const pkg = JSON.parse(readFileSync(join(here, 'package.json'), 'utf8'));
writeFileSync(join(out, 'manifest.json'), JSON.stringify({ js, css, version: pkg.version, built_from: 'web/' }, null, 2) + '\n');
console.log(`web map built into ${out}: ${js}, ${css}`);
