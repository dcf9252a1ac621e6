// A floor page (see ../draw.js): 'fill', drawn on the main thread.
import { draw, every100ms, panels } from './draw.js';

const ctxs = panels().map((p) => p.canvas.getContext('2d', { alpha: false }));
every100ms((ts) => {
  for (const ctx of ctxs) draw(ctx, 600, 150, Date.now(), 'fill');
  __tally.draws.push(ts);
  if (__tally.draws.length > 1000) __tally.draws.splice(0, 500);
});
