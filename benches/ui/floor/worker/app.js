// A floor page (see ../draw.js): 'plot', drawn by a worker into the canvases transferred to it
// (OffscreenCanvas), so the main thread commits no frames.
import { panels } from './draw.js';

const canvases = panels().map((p) => p.canvas.transferControlToOffscreen());
const worker = new Worker('/ui/worker.js', { type: 'module' });
worker.postMessage(canvases, canvases);
worker.onmessage = (e) => {
  for (let i = 0; i < e.data; i++) __tally.draws.push(i);
  if (__tally.draws.length > 1000) __tally.draws.splice(0, 500);
};
