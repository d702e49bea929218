// MathJax 3 (served from the site: assets/mathjax/tex-svg-full.js, no CDN). Typesets the
// pages' math (pymdownx.arithmatex, generic mode: \( \) and \[ \]) and the notebooks'
// Markdown cells ($ $ and $$ $$); code blocks are never touched.
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"], ["$", "$"]],
    displayMath: [["\\[", "\\]"], ["$$", "$$"]],
    processEscapes: true,
    tags: "ams"
  },
  svg: {fontCache: "global"},
  options: {
    ignoreHtmlClass: "tex2jax_ignore",
    menuOptions: {settings: {assistiveMml: false}}
  }
};
