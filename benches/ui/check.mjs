// Browser checks of the drawing core against the fake server (not timed): live panels
// stream and draw, drag-zoom leaves live and tells the page, shift-drag pans, double-click
// returns to the page's live range, the crosshair lists every series, and without /stream
// a live panel polls /render. Screenshots go to target/ui-check/.
//   node benches/ui/check.mjs          (exits non-zero on the first failed check)
import { spawn } from 'node:child_process';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { launch, sleep, waitFor } from './cdp.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const out = `${root}target/ui-check`;
mkdirSync(out, { recursive: true });

async function server(...args) {
  const proc = spawn(process.execPath, [fileURLToPath(new URL('server.mjs', import.meta.url)), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((ok) => proc.stdout.on('data', (d) => ok(Number(/listening (\d+)/.exec(String(d))[1]))));
  return { port, stop: () => proc.kill('SIGTERM') };
}

const shot = async (page, name) => {
  const s = await page.send('Page.captureScreenshot', { format: 'png' });
  writeFileSync(`${out}/${name}.png`, Buffer.from(s.data, 'base64'));
};

const live = await server('--port', '0');
const nostream = await server('--port', '0', '--no-stream');
const browser = await launch();
try {
  const page = await browser.page(`http://127.0.0.1:${live.port}/bench/live.html?panels=2&series=3&cols=1&height=250`);
  await waitFor(page, 'window.__panels && __panels.every((p) => p.mode === "stream" && p.series.every((s) => s.live?.length > 5))');
  const state = () => page.eval('JSON.stringify(__panels.map((p) => ({ live: p.live, view: p.view, from: p.from, n: __perPanel[p.id] ?? 0 })))').then(JSON.parse);
  const before = await state();
  await sleep(1000);
  assert.ok((await state())[0].n > before[0].n, 'a live panel draws as data arrives');
  assert.deepEqual(await page.eval('__errors'), []);
  await shot(page, 'live');

  await page.eval('window.__changes = []; __panels[0].onchange = (s) => __changes.push(s); 1');
  const box = JSON.parse(await page.eval('JSON.stringify(__panels[0].overlay.getBoundingClientRect())'));
  const y = box.y + 100;
  const mouse = (type, x, extra = {}) => page.send('Input.dispatchMouseEvent', { type, x: box.x + x, y, button: 'left', buttons: type === 'mouseReleased' ? 0 : 1, clickCount: 1, ...extra });
  await mouse('mouseMoved', 300);
  await mouse('mousePressed', 300);
  await mouse('mouseMoved', 600);
  await mouse('mouseReleased', 600);
  await sleep(500);
  let s = await state();
  assert.equal(s[0].live, false, 'drag-zoom leaves live');
  assert.ok(s[0].view && s[0].view.t1 - s[0].view.t0 < 30000, 'the view is the dragged range');
  assert.equal(s[1].live, true, 'the other panel stays live');
  const changes = JSON.parse(await page.eval('JSON.stringify(__changes)'));
  assert.equal(changes.length, 1);
  assert.equal(changes[0].live, false);
  assert.match(changes[0].from, /^\d{10}$/);
  const buffered = await page.eval('__panels[0].series[0].live.length');
  await sleep(600);
  assert.ok((await page.eval('__panels[0].series[0].live.length')) > buffered, 'out of live the stream keeps buffering');

  const v0 = s[0].view;
  await mouse('mousePressed', 500, { modifiers: 8 });
  await mouse('mouseMoved', 400, { modifiers: 8 });
  await mouse('mouseReleased', 400, { modifiers: 8 });
  await sleep(300);
  s = await state();
  assert.ok(s[0].view.t0 > v0.t0, 'shift-drag to the left pans later');

  await mouse('mouseMoved', 500);
  await sleep(200);
  const tip = await page.eval('__panels[0].tip.textContent');
  assert.equal(tip.split('\n').filter((l) => l.startsWith('bench.p0.')).length, 3, `crosshair lists every series: ${tip}`);
  await shot(page, 'zoomed');

  await page.send('Input.dispatchMouseEvent', { type: 'mousePressed', x: box.x + 500, y, button: 'left', clickCount: 2 });
  await page.send('Input.dispatchMouseEvent', { type: 'mouseReleased', x: box.x + 500, y, button: 'left', clickCount: 2 });
  await sleep(500);
  s = await state();
  assert.equal(s[0].live, true, 'double-click returns to live');
  assert.equal(s[0].from, '-1min', "back to the page's live range");
  assert.equal(s[0].view, null);

  const poll = await browser.page(`http://127.0.0.1:${nostream.port}/bench/live.html?panels=1&series=2&cols=1&height=200`);
  await waitFor(poll, 'window.__panels && __panels[0].mode === "poll" && __panels[0].series.length === 2');
  assert.match(await poll.eval('__panels[0].liveEl.textContent'), /polling/);
  await shot(poll, 'polling');
  console.log(`ok: all checks passed; screenshots in ${out}`);
} finally {
  browser.close();
  live.stop();
  nostream.stop();
}
