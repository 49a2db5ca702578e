// MathJax 3 for pymdownx.arithmatex (generic mode) and for the Markdown cells of the
// executed notebooks (mkdocs-jupyter), which keep TeX between $...$ / $$...$$.
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"], ["$", "$"]],
    displayMath: [["\\[", "\\]"], ["$$", "$$"]],
    processEscapes: true,
    processEnvironments: true
  },
  options: {
    ignoreHtmlClass: ".*|",
    processHtmlClass: "arithmatex|jp-RenderedMarkdown|jp-MarkdownOutput"
  }
};

document$.subscribe(() => {
  MathJax.typesetPromise()
})
