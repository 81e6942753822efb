// npm run build: bundles src/main.js (and uPlot) into dist/app.js with esbuild and copies the static files.
// .ci/dashboard-dist then writes dist/config.json (the API's origin) and dist/staticwebapp.config.json (routes, CSP).
import { build } from 'esbuild';
import { cpSync, mkdirSync, rmSync } from 'node:fs';

const out = process.env.DASHBOARD_DIST || 'dist';
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await build({
  entryPoints: ['src/main.js'],
  bundle: true,
  format: 'esm',
  target: 'es2022',
  minify: true,
  sourcemap: false,
  outfile: `${out}/app.js`,
  logLevel: 'warning',
});
cpSync('index.html', `${out}/index.html`);
cpSync('styles.css', `${out}/styles.css`);
cpSync('node_modules/uplot/dist/uPlot.min.css', `${out}/uplot.css`);
cpSync('config.json', `${out}/config.json`);
cpSync('favicon.svg', `${out}/favicon.svg`);
console.log(`dashboard: built ${out}/`);
