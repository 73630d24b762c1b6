// Server HTML re-filtered in the browser: only b, i, s, code, pre, a (http/https), br survive;
// bare http(s) URLs in the text become links too. Every link opens apart, with no opener and no referrer.
const ALLOWED = new Set(["B", "I", "S", "CODE", "PRE", "A", "BR"]);
const URL_IN_TEXT = /\bhttps?:\/\/[^\s<>"'`]+/g;
function safeLink(url) {
  try {
    const u = new URL(url, location.href);
    return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
  } catch (e) { return null; }
}
function linkTo(el, href) {
  el.href = href;
  el.target = "_blank";
  el.rel = "noopener noreferrer";
}
function trimUrl(raw) {
  let url = raw.replace(/[.,;:!?]+$/, "");
  while (url.endsWith(")") && (url.match(/\)/g) || []).length > (url.match(/\(/g) || []).length) url = url.slice(0, -1);
  return url;
}
function linkify(text) {
  const frag = document.createDocumentFragment();
  let last = 0;
  for (const m of text.matchAll(URL_IN_TEXT)) {
    const url = trimUrl(m[0]);
    const href = safeLink(url);
    if (!href) continue;
    frag.append(text.slice(last, m.index));
    const a = document.createElement("a");
    linkTo(a, href);
    a.textContent = url;
    frag.append(a);
    last = m.index + url.length;
  }
  frag.append(text.slice(last));
  return frag;
}
function copySafe(from, to, inLink) {
  for (const node of from.childNodes) {
    if (node.nodeType === Node.TEXT_NODE) { to.appendChild(inLink ? document.createTextNode(node.data) : linkify(node.data)); continue; }
    if (node.nodeType !== Node.ELEMENT_NODE) continue;
    if (!ALLOWED.has(node.tagName)) { copySafe(node, to, inLink); continue; }
    const el = document.createElement(node.tagName);
    if (node.tagName === "A") {
      const href = safeLink(node.getAttribute("href") || "");
      if (href) linkTo(el, href);
    }
    copySafe(node, el, inLink || node.tagName === "A");
    to.appendChild(el);
  }
}
function safeHtml(html) {
  const frag = document.createDocumentFragment();
  copySafe(new DOMParser().parseFromString(html || "", "text/html").body, frag, false);
  return frag;
}
