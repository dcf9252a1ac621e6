// The time range picker: relative (`-1h`, `now-5min`) and absolute (`HH:MM_YYYYMMDD`, epoch,
// `YYYYMMDD`) in graphite's formats, read by the server in UTC. The server is the judge of a
// time (a 400 says why); `isTime` only catches typos early.

import { localOffset, timeStamp } from './ticks.js';

const UNIT = '(s|secs?|seconds?|min|mins|minutes?|h|hours?|d|days?|w|weeks?|mon|months?|y|years?)';
const FORMS = [
  new RegExp(`^-\\d+${UNIT}$`),
  new RegExp(`^now([+-]\\d+${UNIT})?$`),
  /^\d{8}$/, /^\d{9,11}$/,
  /^\d{1,2}:\d{2}(am|pm)?_\d{8}$/,
  new RegExp(`^(midnight|noon|teatime|today|yesterday|tomorrow)( \\w+)?([+-]\\d+${UNIT})?$`),
];

export function isTime(s) {
  return FORMS.some((re) => re.test(s));
}

/** A Date as graphite's absolute `HH:MM_YYYYMMDD` (UTC). */
export function absolute(date) {
  const p = (n, w = 2) => String(n).padStart(w, '0');
  return `${p(date.getUTCHours())}:${p(date.getUTCMinutes())}_${date.getUTCFullYear()}${p(date.getUTCMonth() + 1)}${p(date.getUTCDate())}`;
}

/**
 * A short label: `last 1h` for `-1h … now`, else `from → until`, epoch seconds (what a
 * drag-zoom writes) as wall-clock times in the zone `offset` gives, the date once if shared.
 */
export function describeRange(from, until, offset = localOffset) {
  if (until === 'now' && /^-/.test(from)) return `last ${from.slice(1)}`;
  const wall = (t) => (/^\d{9,11}$/.test(t) ? timeStamp(Number(t) * 1000, offset) : t);
  const [f, u] = [wall(from), wall(until)];
  const sameDay = f !== from && u !== until && f.slice(0, 11) === u.slice(0, 11);
  return `${f} → ${sameDay ? u.slice(11) : u}`;
}

const QUICK = ['-5min', '-1h', '-6h', '-24h', '-7d', '-30d'];

/**
 * The picker: quick ranges, from/until fields and a live toggle. `onpick({from, until, live})`
 * when the user applies a range; bad times are marked and not applied.
 */
export function timePicker(range, onpick) {
  const box = document.createElement('form');
  box.className = 'timepicker';
  for (const q of QUICK) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = q.slice(1);
    b.className = q === range.from && range.until === 'now' ? 'on' : '';
    b.onclick = () => onpick({ from: q, until: 'now', live: range.live });
    box.append(b);
  }
  const field = (name, value) => {
    const input = document.createElement('input');
    input.name = name;
    input.value = value;
    input.size = 15;
    input.title = 'graphite time: -1h, now, now-5min, 14:30_20260101, 20260101, epoch seconds';
    input.oninput = () => input.classList.toggle('bad', !isTime(input.value.trim()));
    // A calendar for absolute times: local time picked, written as graphite's UTC form.
    const calendar = document.createElement('input');
    calendar.type = 'datetime-local';
    calendar.className = 'calendar';
    calendar.title = `${name}: pick a date and time`;
    calendar.onchange = () => { if (calendar.value) { input.value = absolute(new Date(calendar.value)); input.oninput(); } };
    box.append(input, calendar);
    return input;
  };
  const from = field('from', range.from);
  const until = field('until', range.until);
  const live = document.createElement('label');
  live.className = 'live-toggle';
  const check = document.createElement('input');
  check.type = 'checkbox';
  check.checked = range.live;
  check.name = 'live';
  live.append(check, ' live');
  const apply = document.createElement('button');
  apply.textContent = 'Apply';
  box.append(live, apply);
  box.onsubmit = (e) => {
    e.preventDefault();
    const f = from.value.trim();
    const u = until.value.trim();
    if (!isTime(f) || !isTime(u)) return;
    onpick({ from: f, until: u, live: check.checked && u === 'now' });
  };
  return box;
}
