// The worker of the 'worker' floor page: draws every transferred canvas every 100 ms and says how
// many times it drew, once a second.
import { draw, every100ms } from './draw.js';

let ctxs = [];
let drawn = 0;
onmessage = (e) => {
  ctxs = e.data.map((c) => c.getContext('2d', { alpha: false }));
};
every100ms(() => {
  for (const ctx of ctxs) draw(ctx, 600, 150, Date.now(), 'plot');
  if (ctxs.length) drawn++;
});
setInterval(() => {
  postMessage(drawn);
  drawn = 0;
}, 1000);
