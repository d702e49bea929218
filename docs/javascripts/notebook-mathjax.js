// Intentionally empty: the notebook template's own MathJax tag points here, since every page
// of the site already loads MathJax once (mkdocs.yml, extra_javascript).
