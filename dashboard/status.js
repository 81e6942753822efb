// Renders GET /api/health and /api/version; refreshes every 5 s.
// config.json names the API's origin (written at deploy time; empty = this origin, as in the standalone host).
const config = await fetch('config.json').then((r) => (r.ok ? r.json() : {})).catch(() => ({}));
const api = (path) => new URL(path, config.apiBaseUrl || document.baseURI);
const text = (el, value) => { el.textContent = value; };

async function refresh() {
  const summary = document.getElementById('summary');
  const body = document.getElementById('deps');
  try {
    const res = await fetch(api('api/health'), { headers: { accept: 'application/json' } });
    const report = await res.json();
    text(summary, report.down.length === 0 ? 'Everything is up.' : `Down: ${report.down.join(', ')}.`);
    body.replaceChildren(...report.dependencies.map((d) => {
      const row = document.createElement('tr');
      for (const [value, cls] of [[d.name], [d.status, d.status], [`${d.latencyMs} ms`], [d.error ?? '']]) {
        const cell = document.createElement('td');
        text(cell, value);
        if (cls) cell.className = cls;
        row.append(cell);
      }
      return row;
    }));
    const version = await (await fetch(api('api/version'))).json();
    text(document.getElementById('version'), `${version.name} ${version.version} (${version.mode}, ${version.runtime})`);
  } catch (err) {
    text(summary, `The handler did not answer: ${err.message}`);
  }
}

refresh();
setInterval(refresh, 5000);
