/**
 * A strict reader of the YAML that docker-compose.yml uses, and nothing more: block mappings and
 * sequences (spaces only), plain/single/double-quoted scalars, one-line flow collections
 * (`[a, "b"]`, `{ k: v }`), comments, anchors (`&a`), aliases (`*a`) and merge keys (`<<: *a`).
 * Anything else (tabs, block scalars `|`/`>`, tags, multiple documents, complex keys, duplicate
 * keys) is an error naming the line, so the compose test never reads a file differently from
 * Docker without saying so.
 */
export type Yaml = string | number | boolean | null | Yaml[] | { [key: string]: Yaml };

interface Line {
  no: number;
  indent: number;
  text: string;
}

export function parseYaml(source: string): Yaml {
  const lines: Line[] = [];
  source.split('\n').forEach((raw, i) => {
    if (/\t/.test(raw.replace(/(["'])(?:(?!\1).)*\1/g, ''))) throw new Error(`line ${i + 1}: tab characters are not supported`);
    const text = stripComment(raw).trimEnd();
    if (!text.trim()) return;
    if (/^(---|\.\.\.)\s*$/.test(text)) throw new Error(`line ${i + 1}: document markers are not supported`);
    lines.push({ no: i + 1, indent: text.length - text.trimStart().length, text: text.trimStart() });
  });
  const anchors = new Map<string, Yaml>();
  let pos = 0;

  const fail = (line: Line | undefined, what: string): never => {
    throw new Error(`line ${line?.no ?? 'end'}: ${what}`);
  };

  const block = (indent: number): Yaml => {
    const first = lines[pos];
    if (!first || first.indent < indent) return null;
    return first.text.startsWith('- ') || first.text === '-' ? sequence(first.indent) : mapping(first.indent);
  };

  const sequence = (indent: number): Yaml[] => {
    const out: Yaml[] = [];
    while (pos < lines.length && lines[pos].indent === indent && (lines[pos].text.startsWith('- ') || lines[pos].text === '-')) {
      const line = lines[pos];
      const rest = line.text.slice(1).trimStart();
      if (!rest) {
        pos++;
        out.push(block(indent + 1));
      } else if (/^[^"'[{&*][^:]*:(\s|$)/.test(rest) || /^["'][^"']*["']:(\s|$)/.test(rest)) {
        // `- key: value` starts a mapping whose other keys line up with `key`.
        const inner = indent + (line.text.length - rest.length);
        lines[pos] = { no: line.no, indent: inner, text: rest };
        out.push(mapping(inner));
      } else {
        pos++;
        out.push(value(rest, line, indent));
      }
    }
    if (pos < lines.length && lines[pos].indent > indent) fail(lines[pos], 'unexpected indentation');
    return out;
  };

  const mapping = (indent: number): { [key: string]: Yaml } => {
    const out: { [key: string]: Yaml } = {};
    const merged: { [key: string]: Yaml } = {};
    while (pos < lines.length && lines[pos].indent === indent) {
      const line = lines[pos];
      if (line.text.startsWith('- ')) fail(line, 'a sequence item where a mapping key was expected');
      const m = /^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s"'?!&*{}[\],#][^:]*?)\s*:(?:\s+(.*))?$/.exec(line.text);
      if (!m) fail(line, `not a "key: value" line: ${line.text}`);
      const key = String(scalar(m![1], line));
      pos++;
      const v = m![2] === undefined ? block(indent + 1) : value(m![2], line, indent);
      if (key === '<<') {
        const sources = Array.isArray(v) ? v : [v];
        for (const s of sources) {
          if (!s || typeof s !== 'object' || Array.isArray(s)) fail(line, 'a merge key needs a mapping (or a list of them)');
          for (const [k, x] of Object.entries(s as object)) if (!(k in merged)) merged[k] = x as Yaml;
        }
        continue;
      }
      if (key in out) fail(line, `duplicate key "${key}"`);
      out[key] = v;
    }
    if (pos < lines.length && lines[pos].indent > indent) fail(lines[pos], 'unexpected indentation');
    return { ...merged, ...out };
  };

  /** The value after `key:` or `- `: an anchor, an alias, a flow collection or a scalar. */
  const value = (text: string, line: Line, indent: number): Yaml => {
    let t = text.trim();
    let anchor: string | undefined;
    const a = /^&([A-Za-z0-9_-]+)(?:\s+(.*))?$/.exec(t);
    if (a) {
      anchor = a[1];
      t = (a[2] ?? '').trim();
    }
    let v: Yaml;
    if (!t) v = block(indent + 1);
    else if (t.startsWith('*')) {
      if (!anchors.has(t.slice(1))) fail(line, `unknown alias ${t}`);
      v = anchors.get(t.slice(1))!;
    } else if (t.startsWith('[') || t.startsWith('{')) v = flow(t, line);
    else if (/^[|>]/.test(t)) v = fail(line, 'block scalars (| and >) are not supported');
    else if (/^[!%@`]/.test(t)) v = fail(line, `unsupported syntax: ${t}`);
    else v = scalar(t, line);
    if (anchor) anchors.set(anchor, v);
    return v;
  };

  /** A one-line flow collection. */
  const flow = (text: string, line: Line): Yaml => {
    let i = 0;
    const ws = () => {
      while (text[i] === ' ') i++;
    };
    const item = (): Yaml => {
      ws();
      if (text[i] === '[') {
        i++;
        const out: Yaml[] = [];
        ws();
        if (text[i] === ']') return i++, out;
        for (;;) {
          out.push(item());
          ws();
          if (text[i] === ',') i++;
          else if (text[i] === ']') return i++, out;
          else fail(line, `bad flow sequence: ${text}`);
        }
      }
      if (text[i] === '{') {
        i++;
        const out: { [key: string]: Yaml } = {};
        ws();
        if (text[i] === '}') return i++, out;
        for (;;) {
          const key = String(atom(':'));
          if (text[i] !== ':') fail(line, `bad flow mapping: ${text}`);
          i++;
          if (key in out) fail(line, `duplicate key "${key}"`);
          out[key] = item();
          ws();
          if (text[i] === ',') i++;
          else if (text[i] === '}') return i++, out;
          else fail(line, `bad flow mapping: ${text}`);
        }
      }
      return atom('');
    };
    const atom = (stop: string): Yaml => {
      ws();
      const start = i;
      if (text[i] === '"' || text[i] === "'") {
        const q = text[i++];
        while (i < text.length && text[i] !== q) i += text[i] === '\\' && q === '"' ? 2 : 1;
        if (q === "'" && text[i + 1] === "'") fail(line, 'doubled quotes in flow scalars are not supported');
        i++;
        return scalar(text.slice(start, i), line);
      }
      while (i < text.length && !',]}'.includes(text[i]) && !stop.includes(text[i])) i++;
      return scalar(text.slice(start, i).trim(), line);
    };
    const v = item();
    ws();
    if (i !== text.length) fail(line, `trailing text after a flow collection: ${text.slice(i)}`);
    return v;
  };

  const result = block(0);
  if (pos !== lines.length) fail(lines[pos], 'unexpected indentation');
  return result;
}

/** A scalar: quoted strings unescaped; plain ones typed as YAML 1.2's core schema types them. */
function scalar(text: string, line: Line): Yaml {
  if (text.startsWith('"')) {
    if (!/^"(?:[^"\\]|\\.)*"$/.test(text)) throw new Error(`line ${line.no}: bad double-quoted string ${text}`);
    return JSON.parse(text) as string;
  }
  if (text.startsWith("'")) {
    if (!/^'(?:[^']|'')*'$/.test(text)) throw new Error(`line ${line.no}: bad single-quoted string ${text}`);
    return text.slice(1, -1).replace(/''/g, "'");
  }
  if (text === '' || text === '~' || text === 'null') return null;
  if (text === 'true' || text === 'false') return text === 'true';
  if (/^[-+]?\d+$/.test(text)) return Number(text);
  if (/^[-+]?(\d+\.\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) return Number(text);
  if (/: |\s#/.test(text)) throw new Error(`line ${line.no}: ambiguous plain scalar ${text} (quote it)`);
  return text;
}

/** The line without its comment (a `#` at the start or after a space, outside quotes). */
function stripComment(line: string): string {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") {
      if (i === 0 || /[\s[{,:-]/.test(line[i - 1])) quote = c;
    } else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]))) {
      return line.slice(0, i);
    }
  }
  return line;
}
