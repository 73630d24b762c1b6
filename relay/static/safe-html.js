// Server HTML re-filtered in the browser: only b, i, s, code, pre, a (http/https), br survive.
const ALLOWED = new Set(["B", "I", "S", "CODE", "PRE", "A", "BR"]);
function safeLink(url) {
  try {
    const u = new URL(url, location.href);
    return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
  } catch (e) { return null; }
}
function copySafe(from, to) {
  for (const node of from.childNodes) {
    if (node.nodeType === Node.TEXT_NODE) { to.appendChild(document.createTextNode(node.data)); continue; }
    if (node.nodeType !== Node.ELEMENT_NODE) continue;
    if (!ALLOWED.has(node.tagName)) { copySafe(node, to); continue; }
    const el = document.createElement(node.tagName);
    if (node.tagName === "A") {
      const href = safeLink(node.getAttribute("href") || "");
      if (href) { el.href = href; el.target = "_blank"; el.rel = "noopener noreferrer"; }
    }
    copySafe(node, el);
    to.appendChild(el);
  }
}
function safeHtml(html) {
  const frag = document.createDocumentFragment();
  copySafe(new DOMParser().parseFromString(html || "", "text/html").body, frag);
  return frag;
}
