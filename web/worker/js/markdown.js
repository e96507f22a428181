// A small Markdown subset rendered straight into DOM nodes (never through innerHTML), so no
// HTML or script in the text can get through: paragraphs, # headings, - and 1. lists,
// **bold**, *italic*, `code` and [links](https://...) (http and https only).
const INLINE = /(`[^`]+`)|(\*\*[^*]+\*\*)|(\*[^*\s][^*]*\*)|(\[[^\]]+\]\([^)\s]+\))/;

export function safeUrl(text) {
  if (!text || typeof text !== "string") return null;
  try {
    const url = new URL(text);  // absolute only: a media key or a relative path is no URL
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
  } catch {
    return null;
  }
}

function inline(parent, text) {
  while (text) {
    const match = INLINE.exec(text);
    if (!match) break;
    if (match.index) parent.append(text.slice(0, match.index));
    const [token] = match;
    if (match[1]) parent.append(el("code", token.slice(1, -1)));
    else if (match[2]) inline(parent.appendChild(document.createElement("strong")), token.slice(2, -2));
    else if (match[3]) inline(parent.appendChild(document.createElement("em")), token.slice(1, -1));
    else {
      const [, label, href] = /^\[([^\]]+)\]\(([^)\s]+)\)$/.exec(token);
      const url = safeUrl(href);
      if (url) {
        const a = parent.appendChild(document.createElement("a"));
        Object.assign(a, { href: url, target: "_blank", rel: "noopener noreferrer nofollow" });
        inline(a, label);
      } else parent.append(label);  // a javascript: or other link keeps its text, loses its target
    }
    text = text.slice(match.index + token.length);
  }
  if (text) parent.append(text);
}

function el(tag, text) {
  const node = document.createElement(tag);
  node.textContent = text;
  return node;
}

export function renderMarkdown(source) {
  const root = document.createElement("div");
  root.className = "md";
  let list = null;
  let paragraph = [];
  const flush = () => {
    if (paragraph.length) inline(root.appendChild(document.createElement("p")), paragraph.join(" "));
    paragraph = [];
  };
  for (const raw of String(source ?? "").split(/\r?\n/)) {
    const line = raw.trim();
    const heading = /^(#{1,3})\s+(.*)$/.exec(line);
    const item = /^(?:[-*]|(\d+)\.)\s+(.*)$/.exec(line);
    if (!line) { flush(); list = null; continue; }
    if (heading) {
      flush(); list = null;
      inline(root.appendChild(document.createElement(`h${heading[1].length + 2}`)), heading[2]);
    } else if (item) {
      flush();
      const tag = item[1] ? "ol" : "ul";
      if (!list || list.tagName.toLowerCase() !== tag) list = root.appendChild(document.createElement(tag));
      inline(list.appendChild(document.createElement("li")), item[2]);
    } else {
      list = null;
      paragraph.push(line);
    }
  }
  flush();
  return root;
}
