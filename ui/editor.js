// The target editor: a text field that knows graphite's functions (`/functions`): completion
// of function names and of paths (`/metrics/find`), the signature of the call under the cursor
// with the current argument marked, and the server's error shown at its position.

import * as api from './api.js';
import { h, clear } from './dom.js';
import { contextAt, completeFunctions } from './target.js';

let names = [];
api.functions().then((f) => { names = Object.keys(f).sort(); }).catch(() => {});

function signature(info, ctx) {
  const params = info.params || [];
  return h('span.signature', {}, `${info.name}(`, ...params.flatMap((p, i) => {
    const current = ctx.keyword ? p.name === ctx.keyword : i === Math.min(ctx.arg, params.length - 1) && (i === ctx.arg || p.multiple);
    const text = `${p.name}${p.required ? '' : '?'}: ${p.type}${p.multiple ? '…' : ''}`;
    return [i ? ', ' : '', current ? h('b', {}, text) : text];
  }), ')');
}

/**
 * An editor for one target. `oncommit(target)` runs when the text is committed (Enter or
 * leaving the field) and the server accepts it; a rejected target shows the reason and a caret
 * under the character the server named (`.target-error[data-pos]`).
 */
export function targetEditor(initial, oncommit, { placeholder = 'a.path.*, sumSeries(…), web.req:p99' } = {}) {
  const input = h('input.target', { value: initial, placeholder, spellcheck: 'false', autocomplete: 'off' });
  const list = h('ul.complete', { role: 'listbox' });
  const hint = h('div.hint');
  const error = h('div.target-error');
  const box = h('div.editor', {}, input, list, hint, error);
  let seq = 0;

  const choose = (word, text) => {
    const v = input.value;
    input.value = v.slice(0, word.start) + text + v.slice(word.end);
    const at = word.start + text.length;
    input.setSelectionRange(at, at);
    clear(list);
    input.focus();
    update();
  };

  const update = async () => {
    const mine = ++seq;
    const ctx = contextAt(input.value, input.selectionStart ?? input.value.length);
    const fns = await api.functions().catch(() => ({}));
    clear(hint);
    if (ctx.fn && fns[ctx.fn]) hint.append(signature(fns[ctx.fn], ctx), h('span.note', {}, ` ${fns[ctx.fn].description?.split('\n')[0] ?? ''}`));
    let options = [];
    if (ctx.word) {
      options = completeFunctions(names, ctx.word.text).slice(0, 8).map((n) => [n, `${n}(`]);
      if (!options.length && ctx.word.text.length) {
        const found = await api.find(`${ctx.word.text}*`).catch(() => []);
        const base = ctx.word.text.slice(0, ctx.word.text.lastIndexOf('.') + 1);
        options = found.slice(0, 12).map((n) => [n.id, n.expandable ? `${base}${n.text}.` : `${base}${n.text}`]);
      }
    }
    if (mine !== seq) return;
    clear(list).append(...options.map(([label, text]) => h('li', { role: 'option', onmousedown: (e) => { e.preventDefault(); choose(ctx.word, text); } }, label)));
  };

  const commit = async () => {
    clear(list);
    const target = input.value.trim();
    clear(error);
    delete error.dataset.pos;
    if (!target) return;
    const problem = await api.check(target);
    if (!problem) { oncommit(target); return; }
    const pos = problem.position;
    if (pos !== null && pos !== undefined) {
      error.dataset.pos = String(pos);
      error.append(h('pre.caret', {}, `${target}\n${' '.repeat(pos)}^`));
      input.setSelectionRange(pos, Math.min(pos + 1, target.length));
    }
    error.append(h('span', {}, problem.message));
  };

  input.oninput = update;
  input.onclick = update;
  input.onkeydown = (e) => {
    if (e.key === 'Enter') { e.preventDefault(); commit(); }
    if (e.key === 'Escape') clear(list);
    if (e.key === 'Tab' && list.firstChild) { e.preventDefault(); list.firstChild.onmousedown(e); }
  };
  input.onblur = () => { if (input.value.trim() !== initial) commit(); else clear(list); };
  return box;
}
