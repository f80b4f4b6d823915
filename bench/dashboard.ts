/*
 * The Grafana dashboard's queries under load, drawn: the demo (core 0) behind a real Prometheus
 * scraping its health port every second, an open-loop client (bench/openLoop.ts --client, core 1,
 * a new connection per request) through phases of offered load, then every panel's query of
 * docs/grafana/rxjs-listen.json read back over the run (query_range) and drawn as small charts
 * into one SVG, the phases shaded.
 *
 *   npm run bench:dashboard [-- --capacity 180 --phases 0.5:20,3:20,1:20 --busy-ms 5
 *     --demo-flags "--max-lag-ms 100" --svg docs/metrics-under-load.svg]
 *
 * --phases: multiple:seconds, comma-separated (offered load = capacity x multiple).
 * Needs Debian's prometheus. Prometheus and the demo are stopped by their PIDs at the end.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseFlags, words } from './support/flags';
import { freePort, lastJsonLine, machine, requireCommand, root, runPinned, sleep, startServer, stopChild, stopServer } from './support/run';

const flags = parseFlags('dashboard', {
  capacity: { kind: 'number', min: 1, max: 100_000, default: 180 },
  phases: { kind: 'string', default: '0.5:20,3:20,1:20', pattern: /^\d+(\.\d+)?:\d+(,\d+(\.\d+)?:\d+)*$/, rule: 'multiple:seconds pairs, comma-separated (0.5:20,3:20)' },
  'busy-ms': { kind: 'integer', min: 0, max: 1000, default: 5 },
  'demo-flags': { kind: 'string', default: '--max-lag-ms 100' },
  svg: { kind: 'string', default: 'docs/metrics-under-load.svg' },
});
const { capacity, 'busy-ms': busyMs } = flags.values;
const phases = flags.values.phases.split(',').map((pair) => pair.split(':').map(Number) as [multiple: number, seconds: number]);

interface Panel {
  title: string;
  unit?: string;
  targets: { expr: string; legendFormat: string }[];
}
type Series = { name: string; points: [t: number, v: number][] };

const getJson = <T>(url: string): Promise<T> =>
  new Promise((resolve, reject) => {
    get(url, { agent: false, timeout: 10_000 }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve(JSON.parse(body) as T));
    }).on('error', reject);
  });

/** One query over [start, end]: a series per label set, named by the panel's legend format. */
async function range(api: string, expr: string, legend: string, start: number, end: number): Promise<Series[]> {
  const promql = expr.replaceAll('$job', '.*').replaceAll('$instance', '.*').replaceAll('$__rate_interval', '5s');
  const url = `${api}/api/v1/query_range?query=${encodeURIComponent(promql)}&start=${start}&end=${end}&step=1`;
  const answer = await getJson<{ status: string; error?: string; data: { result: { metric: Record<string, string>; values: [number, string][] }[] } }>(url);
  if (answer.status !== 'success') throw new Error(`${promql}: ${answer.error}`);
  return answer.data.result.map(({ metric, values }) => ({
    // One instance here: its address would only crowd the legend.
    name: legend.replace(/\{\{(\w+)\}\}/g, (_, key: string) => (key === 'instance' ? '' : (metric[key] ?? ''))).trim(),
    points: values.map(([t, v]): [number, number] => [t, Number(v)]).filter(([, v]) => Number.isFinite(v)),
  }));
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

/** The charts: two columns, the phases shaded in each. */
function draw(panels: { panel: Panel; series: Series[] }[], start: number, end: number, bands: { from: number; to: number; label: string }[], title: string): string {
  const [cw, ch, pad, top, gap] = [400, 150, 46, 56, 74];
  const rows = Math.ceil(panels.length / 2);
  const [W, H] = [2 * cw + 30, top + rows * (ch + gap)];
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="10">`, `<rect width="${W}" height="${H}" fill="white"/>`];
  out.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`);
  out.push(`<text x="${W / 2}" y="38" text-anchor="middle">${esc(`${machine()}; Prometheus every 1 s; rates over 5 s; x: seconds into the run`)}</text>`);
  panels.forEach(({ panel, series }, i) => {
    const x0 = 15 + (i % 2) * (cw + 10) + pad;
    const y0 = top + Math.floor(i / 2) * (ch + gap) + 16;
    const [w, h] = [cw - pad - 10, ch - 20];
    const values = series.flatMap((s) => s.points.map(([, v]) => v));
    const hi = (values.some((v) => v > 0) ? Math.max(...values) : 1) * 1.1; // all zero: a scale of 1
    const x = (t: number): number => x0 + ((t - start) / (end - start)) * w;
    const y = (v: number): number => y0 + h - (v / hi) * h;
    for (const band of bands) {
      out.push(`<rect x="${x(band.from).toFixed(1)}" y="${y0}" width="${(x(band.to) - x(band.from)).toFixed(1)}" height="${h}" fill="${bands.indexOf(band) % 2 ? '#f4f4f4' : '#fbfbfb'}"/>`);
      out.push(`<text x="${((x(band.from) + x(band.to)) / 2).toFixed(1)}" y="${y0 + 10}" text-anchor="middle" fill="#999">${esc(band.label)}</text>`);
    }
    out.push(`<rect x="${x0}" y="${y0}" width="${w}" height="${h}" fill="none" stroke="#444"/>`);
    out.push(`<text x="${x0}" y="${y0 - 5}" font-weight="bold" font-size="11">${esc(panel.title)}</text>`);
    const unit = panel.unit === 'percentunit' ? '%' : panel.unit === 's' ? ' s' : panel.unit === 'reqps' ? '/s' : '';
    for (const f of [0, 0.5, 1]) {
      const v = (hi / 1.1) * f;
      const text = unit === '%' ? `${Math.round(v * 100)}%` : `${Number(v.toPrecision(3))}${unit}`;
      out.push(`<text x="${x0 - 4}" y="${(y(v) + 3).toFixed(1)}" text-anchor="end">${esc(text)}</text>`);
    }
    for (let t = 0; t <= end - start; t += 10) out.push(`<text x="${x(start + t).toFixed(1)}" y="${y0 + h + 11}" text-anchor="middle" fill="#666">${t}</text>`);
    series.slice(0, COLORS.length).forEach((s, k) => {
      const d = s.points.map(([t, v], j) => `${j === 0 ? 'M' : 'L'}${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
      if (d !== '') out.push(`<path d="${d}" fill="none" stroke="${COLORS[k]}" stroke-width="1.5"/>`);
      const [lx, ly] = [x0 + (k % 4) * 86, y0 + h + 17 + Math.floor(k / 4) * 11];
      out.push(`<rect x="${lx}" y="${ly}" width="10" height="6" fill="${COLORS[k]}"/><text x="${lx + 13}" y="${ly + 6}">${esc(s.name.slice(0, 15))}</text>`);
    });
    if (values.length === 0) out.push(`<text x="${x0 + w / 2}" y="${y0 + h / 2}" text-anchor="middle" fill="#999">no value in this run</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

async function main(): Promise<void> {
  requireCommand('prometheus', ['--version']);
  const dir = mkdtempSync(join(tmpdir(), 'rxjs-listen-dashboard-'));
  const healthPort = await freePort();
  const demo = await startServer('build/demo/server.js', ['--port', '0', '--busy-ms', String(busyMs), '--limit', '1000', '--health-port', String(healthPort), '--drain-ms', '0', ...words(flags.values['demo-flags'])], { cpu: 0 });
  const webPort = await freePort();
  const api = `http://127.0.0.1:${webPort}`;
  writeFileSync(join(dir, 'prometheus.yml'), `global: { scrape_interval: 1s }\nscrape_configs:\n  - { job_name: demo, static_configs: [{ targets: ["127.0.0.1:${healthPort}"] }] }\n`);
  const prometheus = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${webPort}`], { stdio: 'ignore' });
  try {
    await sleep(3000); // ready, and a few scrapes of the idle demo
    const start = Date.now() / 1000;
    const bands: { from: number; to: number; label: string }[] = [];
    for (const [multiple, seconds] of phases) {
      const from = Date.now() / 1000;
      const rate = capacity * multiple;
      const client = await runPinned(1, [process.execPath, join(root, 'build', 'bench', 'openLoop.js'), '--client', '--mode', 'new', '--rate', String(rate), '--seconds', String(seconds), '--port', String(demo.port), '--server-pid', String(demo.pid), '--busy-ms', String(busyMs)], { limitMs: (seconds + 30) * 1000 });
      const result = lastJsonLine<{ goodput: number; servedMs: { p99: number }; outcomes: Record<string, number> }>(client.stdout);
      console.log(JSON.stringify({ multiple, rate, seconds, goodput: result.goodput, servedP99: result.servedMs.p99, outcomes: result.outcomes }));
      bands.push({ from, to: Date.now() / 1000, label: `${multiple}× (${rate}/s)` });
    }
    await sleep(3000); // the last scrapes
    const end = Date.now() / 1000;
    const dashboard = JSON.parse(readFileSync(join(root, 'docs', 'grafana', 'rxjs-listen.json'), 'utf8')) as { panels: (Panel & { fieldConfig?: { defaults?: { unit?: string } } })[] };
    const drawn = [];
    for (const panel of dashboard.panels) {
      const series = (await Promise.all(panel.targets.map((t) => range(api, t.expr, t.legendFormat, start, end)))).flat();
      drawn.push({ panel: { ...panel, unit: panel.fieldConfig?.defaults?.unit }, series });
    }
    const title = `The dashboard under open-loop load: ${busyMs} ms CPU a response, capacity ~${capacity}/s, demo ${flags.values['demo-flags']}`;
    writeFileSync(join(root, flags.values.svg), draw(drawn, start, end, bands, title));
    console.log(`wrote ${flags.values.svg}: ${drawn.length} panels, ${drawn.filter((p) => p.series.length > 0).length} with data`);
  } finally {
    await stopChild(prometheus, 'SIGTERM');
    await stopServer(demo);
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
