// unyo dashboard: the little script the pages need (no inline scripts: CSP).
document.addEventListener("change", (event) => {
  const box = event.target;
  if (box instanceof HTMLInputElement && box.id === "select-all") {
    for (const item of document.querySelectorAll('input[name="numbers"]')) {
      item.checked = box.checked;
    }
  }
});
