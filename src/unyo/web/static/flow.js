// The flow page: draw the Mermaid diagram served with the page (no inline script: CSP).
window.addEventListener("load", () => {
  if (window.mermaid) {
    window.mermaid.initialize({ startOnLoad: false, securityLevel: "strict" });
    window.mermaid.run({ querySelector: "pre.mermaid" });
  }
});
