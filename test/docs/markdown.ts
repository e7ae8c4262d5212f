/**
 * What the documentation tests need of markdown: the links a file makes, the anchors its
 * headings get on GitHub, and a check that every relative link and anchor resolves. Code (fenced
 * blocks and inline spans) is skipped, as GitHub does not make links there.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

export interface Link {
  target: string;
  line: number;
}

/** Each line of `markdown`, with the lines of fenced code blocks blanked out. */
function linesOutsideFences(markdown: string): string[] {
  let fence: string | undefined;
  return markdown.split('\n').map((line) => {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence !== undefined) {
      if (marker !== undefined && marker[0] === fence[0] && marker.length >= fence.length) {
        fence = undefined;
      }
      return '';
    }
    if (marker !== undefined) {
      fence = marker;
      return '';
    }
    return line;
  });
}

/** Each line of `markdown` with all code blanked out: fenced blocks, and inline spans in place. */
function proseLines(markdown: string): string[] {
  return linesOutsideFences(markdown).map((line) =>
    line.replace(/(`+)[\s\S]*?\1/g, (span) => ' '.repeat(span.length)),
  );
}

const INLINE_LINK = /!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]*)>?(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)/g;
const REFERENCE_DEFINITION = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/;
const AUTOLINK = /<((?:https?|mailto):[^>\s]+)>/g;
const HTML_LINK = /<(?:a|img)\s[^>]*?\b(?:href|src)="([^"]*)"/g;

/** Every link target in `markdown` (inline links and images, reference definitions, autolinks, HTML). */
export function linksIn(markdown: string): Link[] {
  const links: Link[] = [];
  for (const [index, text] of proseLines(markdown).entries()) {
    const line = index + 1;
    for (const match of text.matchAll(INLINE_LINK)) links.push({ target: match[1] ?? '', line });
    const definition = REFERENCE_DEFINITION.exec(text);
    if (definition?.[1] !== undefined) links.push({ target: definition[1], line });
    for (const match of text.matchAll(AUTOLINK)) links.push({ target: match[1] ?? '', line });
    for (const match of text.matchAll(HTML_LINK)) links.push({ target: match[1] ?? '', line });
  }
  return links;
}

/**
 * A heading's anchor as GitHub makes it (github-slugger): the heading's text without markup,
 * lower-cased, every character but letters, digits, marks, `_`, `-` and spaces dropped, spaces
 * turned into hyphens.
 */
export function slug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .replace(/`/g, '')
    .replace(/\*\*|\*/g, '');
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** The anchors a document's headings (and explicit `<a id>`/`<a name>`) get, duplicates numbered. */
export function anchorsIn(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of linesOutsideFences(markdown)) {
    const heading = /^\s{0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(line)?.[1];
    if (heading !== undefined) {
      const base = slug(heading);
      const count = seen.get(base) ?? 0;
      seen.set(base, count + 1);
      anchors.add(count === 0 ? base : `${base}-${count}`);
    }
    for (const match of line.matchAll(/<a\s[^>]*?\b(?:id|name)="([^"]+)"/g)) {
      if (match[1] !== undefined) anchors.add(match[1]);
    }
  }
  return anchors;
}

/** Whether an external link is well-formed (it is not fetched: the tests run offline). */
function wellFormedExternal(target: string): boolean {
  if (target.startsWith('mailto:')) return /^mailto:[^@\s]+@[^@\s]+$/.test(target);
  try {
    const url = new URL(target);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname.includes('.');
  } catch {
    return false;
  }
}

/**
 * The links of `file` that do not resolve, as "file:line target: why". Relative links must
 * name an existing file or directory (from the file's folder; a leading `/` from `root`), and
 * an `#anchor` must be a heading's anchor in the markdown file it points into.
 */
export function brokenLinks(file: string, root: string): string[] {
  const markdown = readFileSync(file, 'utf8');
  const where = relative(root, file);
  const broken: string[] = [];
  for (const { target, line } of linksIn(markdown)) {
    const at = `${where}:${line} ${target === '' ? '(empty)' : target}`;
    if (target === '') {
      broken.push(`${at}: empty link`);
      continue;
    }
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) {
      if (!wellFormedExternal(target))
        broken.push(`${at}: not a well-formed http(s) or mailto URL`);
      continue;
    }
    const hash = target.indexOf('#');
    const path = decodeURI(hash === -1 ? target : target.slice(0, hash));
    const anchor = hash === -1 ? undefined : target.slice(hash + 1);
    const resolved =
      path === ''
        ? file
        : path.startsWith('/')
          ? join(root, path)
          : resolve(dirname(file), path.replace(/\?.*$/, ''));
    if (!existsSync(resolved)) {
      broken.push(`${at}: ${relative(root, resolved)} does not exist`);
      continue;
    }
    if (anchor === undefined) continue;
    if (statSync(resolved).isDirectory() || !resolved.endsWith('.md')) {
      broken.push(`${at}: an anchor into something that is not a markdown file`);
      continue;
    }
    const anchors = anchorsIn(readFileSync(resolved, 'utf8'));
    if (!anchors.has(decodeURIComponent(anchor))) {
      broken.push(`${at}: no heading "#${anchor}" in ${relative(root, resolved)}`);
    }
  }
  return broken;
}

/**
 * `markdown` with its tables' cells trimmed and their rule rows shortened to `---` (keeping the
 * alignment colons): the same tables whether or not a formatter padded the columns.
 */
export function withoutTablePadding(markdown: string): string {
  return markdown
    .split('\n')
    .map((line) => {
      if (!line.startsWith('|')) return line;
      const cells = line
        .slice(1, line.endsWith('|') ? -1 : undefined)
        .split(/(?<!\\)\|/)
        .map((cell) => cell.trim().replace(/^(:?)-+(:?)$/, '$1---$2'));
      return `| ${cells.join(' | ')} |`;
    })
    .join('\n');
}
