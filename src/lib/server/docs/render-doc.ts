// The in-app docs: Markdown pages kept in the repository's docs/ folder (bundled at build time),
// rendered with marked and sanitized with sanitize-html. Code blocks come back separately so the
// page can give each a copy button; their examples name the reader's team and this server.
import { Marked, type Token, type Tokens } from 'marked';
import sanitizeHtml from 'sanitize-html';

const SOURCES = import.meta.glob('/docs/*.md', { query: '?raw', import: 'default', eager: true }) as Record<string, string>;

/** Pages in reading order; any other docs/*.md file is reachable by its name too. */
export const DOC_ORDER = ['index', 'api', 'reducers', 'effects', 'recipes', 'self-hosting'];

const pages = new Map(Object.entries(SOURCES).map(([path, text]) => [path.replace(/^\/docs\//, '').replace(/\.md$/, ''), text]));

export type DocBlock = { kind: 'html'; html: string } | { kind: 'code'; code: string; lang: string };
export type Doc = { slug: string; title: string; blocks: DocBlock[]; headings: { id: string; text: string }[] };
export type Reader = { team?: string | null; origin: string };

const SAMPLE_ORIGINS = /https:\/\/pipet\.example|http:\/\/127\.0\.0\.1:3000/g;

export function listDocs(): { slug: string; title: string }[] {
  const slugs = [...DOC_ORDER.filter((s) => pages.has(s)), ...[...pages.keys()].filter((s) => !DOC_ORDER.includes(s)).sort()];
  return slugs.map((slug) => ({ slug, title: titleOf(pages.get(slug)!) }));
}

function titleOf(markdown: string): string {
  return markdown.match(/^#\s+(.+)$/m)?.[1].trim() ?? 'Docs';
}

const slugify = (text: string) =>
  text
    .toLowerCase()
    .replace(/<[^>]+>|`/g, '')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');

/** Examples say `acme` and `https://pipet.example`: a signed-in reader sees their own team and this server. */
function personalize(code: string, reader: Reader): string {
  let out = code.replace(SAMPLE_ORIGINS, reader.origin);
  if (reader.team) out = out.replace(/\bacme\b/g, reader.team);
  return out;
}

const SANITIZE: sanitizeHtml.IOptions = {
  allowedTags: [...sanitizeHtml.defaults.allowedTags, 'h1', 'h2', 'img'],
  allowedAttributes: { a: ['href', 'title'], img: ['src', 'alt', 'title'], '*': ['id'], th: ['align'], td: ['align'] },
  allowedSchemes: ['http', 'https', 'mailto'],
};

export function renderDoc(slug: string, reader: Reader): Doc | null {
  const markdown = pages.get(slug);
  if (markdown === undefined) return null;
  const headings: Doc['headings'] = [];
  const marked = new Marked({
    gfm: true,
    renderer: {
      heading({ tokens, depth }) {
        const text = this.parser.parseInline(tokens);
        const id = slugify(text);
        if (depth === 2) headings.push({ id, text: text.replace(/<[^>]+>/g, '') });
        return `<h${depth} id="${id}">${text}</h${depth}>\n`;
      },
      link({ href, title, tokens }) {
        // Links between Markdown files (README-style) become links between doc pages.
        const to = href.replace(/^(?:\.\/)?(?:docs\/)?([a-z0-9-]+)\.md(#.*)?$/, '/docs/$1$2');
        return `<a href="${to}"${title ? ` title="${title}"` : ''}>${this.parser.parseInline(tokens)}</a>`;
      },
      codespan({ text }) {
        return `<code>${personalize(text, reader)}</code>`;
      },
    },
  });
  const blocks: DocBlock[] = [];
  let pending: Token[] = [];
  const flush = () => {
    if (pending.length) blocks.push({ kind: 'html', html: sanitizeHtml(marked.parser(pending), SANITIZE) });
    pending = [];
  };
  const tokens = marked.lexer(markdown);
  for (const token of tokens) {
    if (token.type === 'code') {
      flush();
      blocks.push({ kind: 'code', code: personalize((token as Tokens.Code).text, reader), lang: (token as Tokens.Code).lang ?? '' });
    } else {
      pending.push(token);
    }
  }
  flush();
  return { slug, title: titleOf(markdown), blocks, headings };
}
