// Graphite targets for the editor: a tokenizer that never fails (partial text is normal while
// typing) and the call context at a cursor (which function, which argument). Pure: no DOM.

const PATH_CHAR = /[A-Za-z0-9_.*?\[\]\-:;^$~!<>%@#+\/|&\\{}=]/;

/**
 * Tokens `{type, text, start, end}`; type is `name` (a path or a function name), `string`,
 * `number`, `(`, `)`, `,`, `=` or `error` (an unclosed string, a stray character).
 */
export function tokenize(text) {
  const tokens = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    const start = i;
    if (/\s/.test(c)) { i++; continue; }
    if ('(),'.includes(c)) {
      tokens.push({ type: c, text: c, start, end: ++i });
    } else if (c === '"' || c === "'") {
      i++;
      while (i < text.length && text[i] !== c) i += text[i] === '\\' ? 2 : 1;
      const closed = i < text.length;
      if (closed) i++;
      tokens.push({ type: closed ? 'string' : 'error', text: text.slice(start, i), start, end: i });
    } else if (/[-+\d]/.test(c) && /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?(?=[\s,)]|$)/.test(text.slice(i))) {
      const m = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?/.exec(text.slice(i));
      i += m[0].length;
      tokens.push({ type: 'number', text: m[0], start, end: i });
    } else if (PATH_CHAR.test(c)) {
      // A path may hold `{a,b}` (its commas are not argument separators) and, after `;`,
      // tags with `=`; a bare `=` right after an identifier is a keyword argument.
      let depth = 0;
      while (i < text.length) {
        const d = text[i];
        if (d === '{') depth++;
        else if (d === '}') depth = Math.max(0, depth - 1);
        else if (d === ',') { if (depth === 0) break; }
        else if (d === '=' && depth === 0 && !text.slice(start, i).includes(';')) break;
        else if (!PATH_CHAR.test(d)) break;
        i++;
      }
      tokens.push({ type: 'name', text: text.slice(start, i), start, end: i });
      if (text[i] === '=') tokens.push({ type: '=', text: '=', start: i, end: ++i });
    } else {
      tokens.push({ type: 'error', text: c, start, end: ++i });
    }
  }
  return tokens;
}

/**
 * What the cursor at `pos` is in: `{fn, arg, keyword, word}` — the innermost call's function
 * name (null at top level), the 0-based argument index, the keyword when the argument is
 * `key=…`, and the token being typed (`{text, start, end}` or null).
 */
export function contextAt(text, pos) {
  const stack = [];
  let word = null;
  const tokens = tokenize(text);
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k];
    if (t.start >= pos) break;
    word = t.end >= pos && t.type === 'name' ? t : null;
    const top = stack[stack.length - 1];
    if (t.type === '(') {
      const prev = tokens[k - 1];
      stack.push({ fn: prev && prev.type === 'name' ? prev.text : null, arg: 0, keyword: null });
    } else if (t.type === ')') stack.pop();
    else if (t.type === ',' && top) { top.arg++; top.keyword = null; }
    else if (t.type === '=' && top) top.keyword = tokens[k - 1]?.text ?? null;
  }
  const top = stack[stack.length - 1] || { fn: null, arg: 0, keyword: null };
  return { fn: top.fn, arg: top.arg, keyword: top.keyword, word };
}

/** Function names that start with `prefix`, best first (exact case prefix, then any case). */
export function completeFunctions(names, prefix) {
  if (!prefix || prefix.includes('.')) return [];
  const lower = prefix.toLowerCase();
  const hits = names.filter((n) => n.toLowerCase().startsWith(lower));
  return hits.sort((a, b) => (b.startsWith(prefix) - a.startsWith(prefix)) || (a < b ? -1 : a > b ? 1 : 0));
}
