// Observation to pixel against a real tally (scripts/bench-ui-latency.sh): opens tally's own
// Explore screen on one StatsD gauge, live, with `?bench=1` (the page then records every
// panel draw with the newest value drawn), sends the gauge a new value (1, 2, 3 …) over UDP
// every 137 ms and reports, per value, the time from the send to the first draw that shows
// it (the page's clock is the same wall clock: performance.timeOrigin + the draw's now()).
// Usage: node benches/ui/latency.mjs --http 127.0.0.1:PORT --statsd PORT [--n 400] [--name bench.lat]
import dgram from 'node:dgram';
import { launch, sleep, waitFor } from './cdp.mjs';

const args = process.argv.slice(2);
const opt = (name, d) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : d;
};
const http = opt('http');
const statsd = Number(opt('statsd'));
const n = Number(opt('n', 400));
const name = opt('name', 'bench.lat');
const udp = dgram.createSocket('udp4');
const send = (v) => new Promise((ok) => udp.send(`${name}:${v}|g`, statsd, '127.0.0.1', ok));
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

await send(0); // the series exists before the page asks for it
await sleep(3000);
const browser = await launch();
try {
  const url = `http://${http}/?bench=1#/explore?target=${name}&from=-1min&until=now&live=1`;
  const page = await browser.page(url);
  await waitFor(page, 'window.__tally && tally.panels?.length && tally.panels.every((e) => e.panel.mode === "stream") && __tally.draws.length > 0', 60000);
  await sleep(2000);
  const sent = [0];
  for (let v = 1; v <= n; v++) {
    sent.push(Date.now());
    await send(v);
    await sleep(137 - ((Date.now() - sent[v]) % 137));
  }
  await sleep(2000);
  const r = JSON.parse(await page.eval(`JSON.stringify({ origin: performance.timeOrigin,
    draws: __tally.draws.map((d) => [d.value, d.t]), mode: tally.panels[0].panel.mode })`));
  const first = new Map();
  for (const [v, t] of r.draws) if (v >= 1 && v <= n && !first.has(v)) first.set(v, r.origin + t);
  const lat = [...first].map(([v, at]) => at - sent[v]);
  const out = {
    date: new Date().toISOString(), browser: (await browser.send('Browser.getVersion')).product,
    sent: n, drawn: lat.length, draws: r.draws.length, mode: r.mode,
    observationToPixelMs: { p50: pct(lat, 50), p95: pct(lat, 95), p99: pct(lat, 99), max: Math.max(...lat), min: Math.min(...lat) },
  };
  console.log(JSON.stringify(out, null, 2));
} finally {
  browser.close();
  udp.close();
}
